"""CAREamics' N2V2 and N2N as stemdlf runs them (stemdlf.baselines.peers): real training on small
frames, a checkpoint that filters as the trained peer did, and refusals."""

import numpy as np
import pytest

from stemdlf.errors import ConfigError

pytest.importorskip("careamics", reason="CAREamics is in the [peers] and [test] extras")

from stemdlf.baselines.peers import PeerTraining, load_peer, peer_denoise, save_peer, train_peer  # noqa: E402


@pytest.fixture(scope="module")
def stacks():
    """Two FOVs of 6 noisy frames of 96x96 blocks on the 0..65535 scale."""
    rng = np.random.default_rng(0)
    clean = np.kron(rng.random((12, 12)), np.ones((8, 8))) * 40000 + 10000
    return [np.clip(clean + rng.normal(0, 6000, (6, 96, 96)), 0, 65535).astype(np.float32) for _ in range(2)]


@pytest.mark.parametrize("name", ["N2V2", "N2N"])
def test_a_peer_trains_for_its_time_and_its_checkpoint_filters_as_it_did(name, stacks, tmp_path):
    careamist, summary = train_peer(name, stacks, PeerTraining(seconds=3, patch_size=32), tmp_path / "work")
    assert summary["method"] == name and summary["steps"] > 0
    assert 2.5 < summary["seconds_training"] < 30  # the Timer stops it at a step's end
    save_peer(careamist, tmp_path / "peer.ckpt")
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == ["peer.ckpt"]  # no partial file left
    trained = peer_denoise(careamist, stacks[0][:2])
    # read back in a fresh scratch folder (none of the training's checkpoints there), as rule denoise_peer does
    loaded = peer_denoise(load_peer(tmp_path / "peer.ckpt", tmp_path / "elsewhere"), stacks[0][:2])
    assert loaded.shape == (2, 96, 96) and loaded.dtype == np.float32
    np.testing.assert_allclose(loaded, trained, atol=1e-2)
    # the workflow's 0..65535 scale comes back (the network saw it divided by 65535)
    assert 0.5 < loaded.mean() / stacks[0][:2].mean() < 1.5


def test_unknown_peers_single_frame_stacks_and_bad_settings_are_refused(stacks, tmp_path):
    with pytest.raises(ValueError, match="unknown peer 'N2X'"):
        train_peer("N2X", stacks, PeerTraining(seconds=1), tmp_path)
    with pytest.raises(ValueError, match="N2N pairs consecutive frames"):
        train_peer("N2N", [s[:1] for s in stacks], PeerTraining(seconds=1, patch_size=32), tmp_path)
    with pytest.raises(ValueError, match="at least twice its patch size \\(64 px\\): these have 96 px"):
        train_peer("N2V2", stacks, PeerTraining(seconds=1, patch_size=64), tmp_path)
    with pytest.raises(ConfigError, match="PeerTraining.patch_size"):
        PeerTraining(patch_size=20)
    with pytest.raises(ConfigError, match="PeerTraining.seconds"):
        PeerTraining(seconds=0)
