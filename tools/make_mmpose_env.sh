#!/usr/bin/env bash
# A separate Python environment with mmpose 1.3.2, for `tools/benchmark.py --vs-mmpose` only.
#
#   bash tools/make_mmpose_env.sh [DIR]        # default DIR: ../mmpose-env
#   python tools/benchmark.py standard --vs-mmpose --mmpose-python DIR/bin/python
#
# mmpose never enters poseforge's environment. Its declared dependencies do not install on a
# CPU-only machine with current Python packages (chumpy's setup imports pip; mmcv's compiled
# ops need a matching build of torch), so this installs what the compared code paths use:
#   - torch 2.13.0 (the CPU build poseforge's benchmark ran with), numpy < 2 (mmpose 1.3.2 era);
#   - mmcv-lite (mmcv without compiled ops) plus a stand-in `mmcv/_ext.py` whose ops raise if
#     ever called: mmpose imports some ops at package import (its transformer heads), while its
#     top-down transforms, CPM and metrics call none of them;
#   - mmdet 3.3.0 without its dependencies (mmpose.models imports it for the RTMO head);
#   - mmpose 1.3.2 without chumpy (used only by its SMPL code) or torchvision.
set -euo pipefail
DIR=${1:-../mmpose-env}
python3 -m venv "$DIR"
PIP="$DIR/bin/pip"
"$PIP" install -q torch==2.13.0
"$PIP" install -q 'mmcv-lite>=2.0.0,<2.2.0' mmengine 'numpy<2' opencv-python-headless six tqdm \
    munkres xtcocotools json_tricks scipy matplotlib pillow terminaltables pycocotools shapely
"$PIP" install -q --no-deps 'mmdet==3.3.0' 'mmpose==1.3.2'
SITE=$("$DIR/bin/python" -c 'import mmcv, os; print(os.path.dirname(mmcv.__file__))')
cat > "$SITE/_ext.py" <<'EOF'
"""Stand-in for mmcv's compiled ops in a benchmark env (mmcv-lite has none): any op raises."""


def __getattr__(name):
    def _missing(*args, **kwargs):
        raise NotImplementedError(f'mmcv compiled op {name} is not built in this environment')
    return _missing
EOF
"$DIR/bin/python" -c 'import mmpose, mmpose.models, mmpose.datasets; print("mmpose", mmpose.__version__, "ready")'
