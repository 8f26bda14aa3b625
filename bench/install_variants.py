"""How long *Install dependencies* takes and how much it puts into the profile, per onnxruntime variant.

    /usr/bin/python3 bench/install_variants.py [--variants cpu nvidia openvino] [--training] [--keep]

Run it with QGIS's Python (the system interpreter, not .venv, which already has onnxruntime). Each variant is
installed by the plugin's own installer into a throwaway profile, with pip's own configuration; pip's cache
serves what it already holds, so a second run shows the cached time. Then each GPU provider is tried as the
diagnostics do (on a machine without that GPU the reason is printed). Not part of `make bench`: the nvidia
variant puts about 2.5 GB into the profile, the training packages several more.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from plugin.core.progress import LoggingProgress  # noqa: E402 - after the path is set
from plugin.dependencies.install_error import InstallError  # noqa: E402
from plugin.dependencies.installer import InstallRequest, install  # noqa: E402
from plugin.dependencies.variants import VARIANTS  # noqa: E402

PROBE = """
import json, site, sys
site.addsitedir(sys.argv[1])
sys.path.insert(0, sys.argv[2])
import onnxruntime
from plugin.core.model.provider_probe import check_providers
print(json.dumps([[c.provider, c.works, c.reason[:160]] for c in check_providers(onnxruntime)]))
"""


def measure(variant: str, training: bool, keep: bool) -> None:
    profile = Path(tempfile.mkdtemp(prefix=f"seamless-install-{variant}-"))
    try:
        result = install(InstallRequest(profile, variant, training), LoggingProgress())
    except InstallError as error:
        print(f"{variant:10} {'+ training' if training else '':11} failed: {error}")
        return
    packages = result.installation.packages if result.installation else {}
    runtime = next((f"{n} {v}" for n, v in packages.items() if n.startswith("onnxruntime")), "from QGIS's Python")
    print(f"{variant:10} {'+ training' if training else '':11} {result.seconds:7.1f} s "
          f"{result.size_bytes / 1e6:8.0f} MB  {len(packages)} packages, {runtime}; providers: "
          f"{', '.join(result.providers)}", flush=True)
    if result.installation:
        checks = subprocess.run([str(result.python.path), "-c", PROBE, str(result.installation.site), str(REPO)],
                                capture_output=True, text=True, timeout=600)
        for provider, works, reason in json.loads(checks.stdout.strip().splitlines()[-1] or "[]"):
            print(f"{'':23} {provider}: {'a session starts' if works else 'does not start: ' + reason}")
    if keep:
        print(f"{'':23} kept in {profile}")
    else:
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=[k for k, v in VARIANTS.items()
                                                          if not v.platforms or sys.platform in v.platforms])
    parser.add_argument("--training", action="store_true", help="also install torch, onnx and onnxscript")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway profiles")
    arguments = parser.parse_args()
    print(f"Python {sys.version.split()[0]} ({sys.executable}), platform {sys.platform}")
    print(f"{'variant':10} {'':11} {'time':>9} {'size':>11}")
    for variant in arguments.variants:
        measure(variant, arguments.training, arguments.keep)


if __name__ == "__main__":
    main()
