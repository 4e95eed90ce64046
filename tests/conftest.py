"""Ansible runs of the unit tests use the checkout's ansible.cfg wherever they run (tmp_path as cwd too): it puts
the checkout on the collections path, where the roles' filters resolve as paddleocr.fleet.*."""

import os

from support import PROJECT_ROOT

os.environ.setdefault("ANSIBLE_CONFIG", str(PROJECT_ROOT / "ansible.cfg"))
