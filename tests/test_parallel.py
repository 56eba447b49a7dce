"""Frame-wise work in threads over slices of a stack (stemdlf.runtime.parallel)."""

import numpy as np

from stemdlf.runtime.parallel import map_slices


def test_map_slices_equals_one_call_and_passes_each_slice_its_offset():
    frames = np.arange(7 * 3 * 2, dtype=np.float32).reshape(7, 3, 2)
    seen = []

    def fn(part, offset):
        seen.append((offset, len(part)))
        return part * 2 + np.arange(offset, offset + len(part))[:, None, None]  # depends on the true index

    one = fn(frames, 0)
    seen.clear()
    np.testing.assert_array_equal(map_slices(fn, frames, 3), one)
    assert sorted(seen) == [(0, 2), (2, 3), (5, 2)]  # three consecutive slices covering the stack once
    np.testing.assert_array_equal(map_slices(fn, frames, 50), one)  # more workers than frames: one frame each
    seen.clear()
    np.testing.assert_array_equal(map_slices(fn, frames, 1), one)
    assert seen == [(0, 7)]
