"""What the tests share and the product does not ship: the checkout they test, the stand-in apt repositories
(standin_repo), the sandbox's stand-in model archives and its mirror's fault routes (mirror_standin), a private
model mirror and corrupted archives (testing).

pyproject.toml puts tests/ on pytest's pythonpath, so unit, integration and molecule tests import `support`.
"""

import importlib.util
from pathlib import Path
from types import ModuleType

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def load_plugin(kind: str, name: str) -> ModuleType:
    """A plugin of the collection (plugins/<kind>/<name>.py) as a module, for its unit tests."""
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "plugins" / kind / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
