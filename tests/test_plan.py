"""The memory estimates the rules give the scheduler (stemdlf.plan), against hand-computed answers."""

import pytest

from stemdlf import plan

TRAINING = {"validation_patches": 256, "batch_size": 16, "patch_size": 64, "epochs": 10, "steps_per_epoch": 30}


def test_a_stack_job_holds_its_copies_of_one_chunk():
    # paper scale: 50 frames of 512x512, read whole (chunk 64 >= 50), 3 float32 copies: 500 + 3*50*262144*4/1e6
    assert plan.frames_mb(50, 512 * 512, 64, copies=3) == 500 + 157
    # a 2,500-frame single FOV is read in chunks of 64: the chunk, not the stack, is what is held
    assert plan.frames_mb(2500, 512 * 512, 64, copies=3) == plan.frames_mb(64, 512 * 512, 64, copies=3) == 500 + 201


def test_image_and_stack_jobs():
    assert plan.image_mb(512 * 512, copies=40) == 500 + 83  # 40 float64 images of 2 MB
    assert plan.stacks_mb(50, 512 * 512, n_fovs=2) == 500 + 209  # 2 FOVs x 2 copies x 52 MB


def test_training_holds_targets_and_patches_on_top_of_the_framework():
    # 52 FOV targets of 512x512 float32 (54.5 MB) + 2 x (256 + 160) patches of 64x64 float32 (13.6 MB)
    assert plan.training_mb(512 * 512, 52, TRAINING) == 2000 + 68
    assert plan.training_mb(512 * 512, 104, TRAINING) > plan.training_mb(512 * 512, 52, TRAINING)


def test_care_holds_its_patch_pool_up_to_the_limit():
    # 10 x 30 x 16 = 4,800 patch pairs + 256 validation: 2 x 2 x 5,056 x 64 x 64 x 4 bytes = 331 MB
    assert plan.care_mb(TRAINING, max_patches=20000) == 2000 + 331
    # a longer training is capped by the pool size
    long = {**TRAINING, "epochs": 100}
    assert plan.care_mb(long, max_patches=20000) == 2000 + int(4 * (20000 + 256) * 64 * 64 * 4 / 1e6)
    assert plan.care_mb(long, max_patches=20000) == pytest.approx(3327, abs=1)
