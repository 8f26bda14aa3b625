"""What QGIS's Python has is asked of that Python and kept: constraints, interpreter, duplicates left out."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from plugin.dependencies.environment import constraint_lines, installed_distributions
from plugin.dependencies.install_error import InstallError
from plugin.dependencies.interpreter import candidates, find_python, probe
from plugin.dependencies.staging import installed_in, leave_out_duplicates, top_level_modules
from plugin.dependencies.variants import choose_variant, requirement_name

SYSTEM_PYTHON = Path("/usr/bin/python3")


def _system_numpy() -> str:
    return subprocess.run([str(SYSTEM_PYTHON), "-c", "import numpy; print(numpy.__version__)"], capture_output=True,
                          text=True, check=True).stdout.strip()


def test_the_interpreter_found_is_this_python():
    found = find_python()
    assert found.version.split(".")[:2] == [str(n) for n in sys.version_info[:2]]
    assert Path(found.prefix).resolve() == Path(sys.prefix).resolve()


def test_a_program_that_is_not_python_is_not_taken(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho not python\n")
    fake.chmod(0o755)
    assert probe(fake) is None
    with pytest.raises(InstallError, match="Could not find the Python"):
        find_python([fake, tmp_path / "missing"])


def test_known_layouts_are_candidates_when_sys_executable_is_qgis():
    windows = candidates(r"C:\OSGeo4W\bin\qgis-bin.exe", "", r"C:\OSGeo4W\apps\Python312", "win32")
    assert Path(r"C:\OSGeo4W\apps\Python312") / "python.exe" in windows
    assert all(p.name.lower() != "qgis-bin.exe" for p in windows)
    mac = candidates("/Applications/QGIS.app/Contents/MacOS/QGIS", "", "/x/Python.framework/Versions/3.11", "darwin")
    assert mac[0] == Path("/Applications/QGIS.app/Contents/MacOS/bin/python3")


@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no system Python at /usr/bin/python3")
def test_numpy_and_every_other_installed_package_is_pinned_to_its_version():
    python = probe(SYSTEM_PYTHON)
    installed = installed_distributions(python)
    lines = constraint_lines(installed)
    assert f"numpy=={_system_numpy()}" in lines  # Debian 12: 1.24.2, which its GDAL bindings are built for
    assert len(lines) == len(set(lines)) and all("==" in line for line in lines)
    assert {line.split("==")[0] for line in lines} <= set(installed)


def test_the_dependency_folder_is_left_out_of_what_qgis_python_has(tmp_path):
    site = tmp_path / "python" / "seamless_segmentation_deps"
    site.mkdir(parents=True)
    (site / "fake_pkg-1.0.dist-info").mkdir()
    (site / "fake_pkg-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-pkg\nVersion: 1.0\n")
    code = ("import sys, json; sys.path.append(sys.argv[1]); from plugin.dependencies.environment import "
            "installed_distributions; from plugin.dependencies.interpreter import find_python; "
            "print(json.dumps(sorted(installed_distributions(find_python(), leave_out=sys.argv[2]))))")
    seen = subprocess.run([sys.executable, "-c", code, str(site), str(site)], capture_output=True, text=True,
                          env={"PYTHONPATH": f"{site}:{Path(__file__).resolve().parents[2]}"}, check=True).stdout
    assert "fake-pkg" not in seen


def test_copies_of_what_qgis_python_already_has_are_left_out(tmp_path):
    """A real pip install: packaging (which this Python has) and a package it lacks."""
    import packaging

    target = tmp_path / "target"
    completed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
                                f"packaging=={packaging.__version__}", "flatbuffers"], capture_output=True, text=True,
                               timeout=600)
    assert completed.returncode == 0, completed.stderr
    assert set(installed_in(target)) == {"packaging", "flatbuffers"}
    system = {"packaging": (packaging.__version__, "system"), "flatbuffers": ("0.0.1", "system")}
    assert leave_out_duplicates(target, system) == [f"packaging {packaging.__version__}"]
    assert set(installed_in(target)) == {"flatbuffers"}  # another version than the system's stays
    assert not (target / "packaging").exists()
    assert top_level_modules(target) == {"flatbuffers"}


def test_variants_and_requirement_names():
    assert choose_variant("cpu", "linux")[0].requirements == ("onnxruntime>=1.16",)
    assert requirement_name("onnxruntime-gpu[cuda,cudnn]>=1.21") == "onnxruntime-gpu"
    assert requirement_name("Foo_Bar.baz>=1") == "foo-bar-baz"
    with pytest.raises(InstallError, match="does not exist for this platform"):
        choose_variant("directml", "linux")
    with pytest.raises(InstallError, match="Unknown variant"):
        choose_variant("cuda12", "linux")


def test_pip_conflicts_are_explained_in_words():
    from plugin.dependencies.pip_runner import PipRun, explain_failure

    lines = ["Collecting onnxruntime-openvino>=1.16",
             "ERROR: Cannot install onnxruntime-openvino==1.17.1 because these package versions have conflicting "
             "dependencies.", "The conflict is caused by:", "    onnxruntime-openvino 1.17.1 depends on numpy>=1.26.4",
             "    The user requested (constraint) numpy==1.24.2", "To fix this you could try to:",
             "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/"]
    message = explain_failure(PipRun(1, lines), "")
    assert "onnxruntime-openvino 1.17.1 depends on numpy>=1.26.4; QGIS's Python has numpy==1.24.2" in message


@pytest.mark.slow
def test_a_pip_wheel_fetched_from_the_index_runs_with_this_python(tmp_path):
    """For a QGIS Python without pip and without a pip wheel on the system (the installer's last resort)."""
    from plugin.dependencies.pip_source import download_pip_wheel

    wheel = download_pip_wheel(tmp_path)
    assert wheel.name.startswith("pip-") and wheel.suffix == ".whl"
    completed = subprocess.run([sys.executable, f"{wheel}/pip", "--version"], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0 and completed.stdout.startswith("pip "), completed.stderr
