"""Sphinx configuration: MyST pages, the tutorials rendered from their saved outputs, and an
API reference generated from the docstrings."""

import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import functrans  # noqa: E402

project = "functrans"
release = version = functrans.__version__
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
html_theme = "furo"
html_static_path = ["_static"]
html_title = f"functrans {release}"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
nb_execution_mode = "off"            # the notebooks are saved with their outputs and plots
myst_enable_extensions = ["colon_fence", "dollarmath"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
suppress_warnings = ["myst.header"]

# Sphinx reads sources only below docs/: copy the tutorials in (docs/tutorials is generated).
_tutorials = HERE / "tutorials"
_tutorials.mkdir(exist_ok=True)
for notebook in sorted((ROOT / "tutorials").glob("*.ipynb")):
    shutil.copyfile(notebook, _tutorials / notebook.name)
