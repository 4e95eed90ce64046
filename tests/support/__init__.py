"""What the tests share and the product does not ship: the checkout they test, the stand-in apt repositories
(standin_repo), a private model mirror and corrupted archives (testing).

pyproject.toml puts tests/ on pytest's pythonpath, so unit, integration and molecule tests import `support`.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
