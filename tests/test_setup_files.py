"""Set-up as the README says (issue 17, finding 8): the package installs with its console script, upload
limits in the config match the real ones, no file watcher on generated assets."""
import tomllib
from pathlib import Path

from safetymap.io.uploads import DEFAULT_LIMITS, PHOTO_LIMITS

ROOT = Path(__file__).resolve().parent.parent


def test_requirements_install_the_package_with_a_console_script():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    assert project["project"]["scripts"]["safetymap"] == "safetymap.cli:main"
    assert project["project"]["requires-python"] == ">=3.11"
    assert "schema.toml" in project["tool"]["setuptools"]["package-data"]["safetymap"]
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "-e ." in lines


def test_streamlit_config_states_the_real_upload_limit_and_watches_nothing():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == DEFAULT_LIMITS.max_mb
    assert config["server"]["fileWatcherType"] == "none"
    assert "static" in config["server"]["folderWatchBlacklist"]
    assert PHOTO_LIMITS.max_mb < DEFAULT_LIMITS.max_mb  # the photo uploader says its own, lower limit


def test_readme_setup_commands_make_a_virtual_environment():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt" in readme
    assert "Python 3.11" in readme


def test_page_icons_are_material_icons_not_emoji():
    app = (ROOT / "safetymap" / "ui" / "main.py").read_text(encoding="utf-8")  # the pages, where app.py runs them
    assert app.count('":material/') >= 10
    assert not any(0x1F300 <= ord(ch) <= 0x1FAFF or 0x2600 <= ord(ch) <= 0x27BF for ch in app)


def test_ci_runs_the_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme[readme.index("## Set-up"):readme.index("\n## ", readme.index("## Set-up") + 1)]
    commands = [block.split("\n")[1] for block in setup.split("```bash")[1:]]
    assert commands[1].endswith("python -m pytest")
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_module_that_drives_a_browser_runs_with_the_others_of_its_kind():
    """conftest's BROWSER_MODULES (one xdist unit of work) names every test module that starts Chromium or
    the app for it: a new one left out would run beside another browser again."""
    from conftest import BROWSER_MODULES

    drives = {p.name for p in (ROOT / "tests").glob("test_*.py")
              if any(word in p.read_text(encoding="utf-8") for word in ("chromium", "AppServer", "bench_scale"))}
    assert drives - {"test_setup_files.py"} <= BROWSER_MODULES, sorted(drives - BROWSER_MODULES)
