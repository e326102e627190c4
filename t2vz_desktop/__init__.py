"""t2vz-desktop: text-to-video and video editing with Text2Video-Zero."""

import os

__version__ = "0.2.0"

# OpenMP threads that spin while they wait turn a busy CPU into a stalled one: with torch on 2
# cores beside another busy process, the demo model's 8 frames took 117 s spinning against 10 s
# waiting passively. Set before torch is imported (importing this package comes first); a value
# the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
