"""The SSH fleet scenario runs inventories/production's group_vars: only addresses, connection details and the
model sets (a PaddleOCR 2.x set) differ."""

from __future__ import annotations

import yaml

from support import PROJECT_ROOT

FLEET = PROJECT_ROOT / "molecule" / "fleet"
PRODUCTION_ALL = PROJECT_ROOT / "inventories" / "production" / "group_vars" / "all" / "main.yml"
# Where the sandbox's servers are (mirror, wheelhouse, base image, registry): nothing else may change.
SANDBOX_ADDRESSES = {
    "sandbox_mirror_url", "sandbox_registry_port", "paddleocr_models_source_urls", "paddleocr_image_registry",
    "paddleocr_image_registry_push", "docker_engine_daemon_options_extra", "paddleocr_image_base",
    "paddleocr_image_pip_find_links", "paddleocr_image_pip_no_index", "paddleocr_image_pip_trusted_hosts",
    "paddleocr_image_pip_index_url", "paddleocr_image_build_network",
}
# The fleet serves PP-OCRv6 tiny, the set for small CPUs (production leaves the model sets to the defaults).
FLEET_MODEL_CHOICE = {"paddleocr_model_sets", "paddleocr_model_set_active"}
CONNECTION = {"ansible_connection", "ansible_host", "ansible_port", "ansible_ssh_common_args"}


def load(path):
    return yaml.safe_load(path.read_text()) or {}


def test_the_fleet_links_productions_group_vars_unchanged():
    linked = FLEET / "group_vars" / "all" / "production.yml"
    assert linked.is_symlink() and linked.resolve() == PRODUCTION_ALL.resolve()
    production = load(PRODUCTION_ALL)
    assert production["ansible_user"] == "deploy" and production["ansible_become"] is True


def test_the_sandbox_overlay_sets_only_addresses_and_the_model_choice():
    overlay = load(FLEET / "group_vars" / "all" / "sandbox.yml")
    assert set(overlay) <= SANDBOX_ADDRESSES | FLEET_MODEL_CHOICE, set(overlay) - SANDBOX_ADDRESSES
    assert overlay["paddleocr_model_set_active"] == "ppocrv6-tiny"
    # It never relaxes what production sets: become, the deploy user, checksums.
    assert not set(overlay) & set(load(PRODUCTION_ALL)) - {"paddleocr_image_registry"}


def test_the_fleet_group_and_hosts_set_connection_details():
    assert set(load(FLEET / "group_vars" / "fleet.yml")) <= CONNECTION
    for host_vars in (FLEET / "host_vars").glob("*.yml"):
        settings = load(host_vars)
        assert settings["ansible_connection"] == "ansible.builtin.ssh", host_vars.name
        assert "ansible_user" not in settings and "ansible_become" not in settings, host_vars.name
