"""Test-wide settings.

Tests use one torch thread: their tensors are small, and on a shared 2-core machine a second
OpenMP thread mostly waits at barriers (tiny ops then take milliseconds instead of
microseconds). Benchmarks, not tests, measure speed.
"""

import torch

torch.set_num_threads(1)
