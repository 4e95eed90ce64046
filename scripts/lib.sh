# Shared helpers of the scripts that start background servers. Source it: . scripts/lib.sh

# wait_for_url URL WHAT LOG: poll URL for up to 20 s; on timeout say which server did not start and
# where its log is, and fail.
wait_for_url() {
  local url=$1 what=$2 log=$3
  for _ in $(seq 40); do
    curl --silent --fail --max-time 2 "$url" >/dev/null && return 0
    sleep 0.5
  done
  echo "$what did not start; see $log" >&2
  return 1
}
