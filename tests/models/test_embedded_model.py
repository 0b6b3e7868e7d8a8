"""The embedded default model: it ships as safetensors, loads offline and draws what it is asked."""

import json
import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402
from diffusers import DiffusionPipeline, StableDiffusionPipeline  # noqa: E402

from models import EMBEDDED_MODEL, data, quality, train  # noqa: E402


@pytest.fixture(scope="module")
def pipe():
    torch.set_num_threads(2)
    pipe = DiffusionPipeline.from_pretrained(EMBEDDED_MODEL, local_files_only=True, use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def training_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("emoji")
    data.save(folder)
    return data.load(folder)


def test_weights_are_safetensors_and_small():
    files = [p for p in EMBEDDED_MODEL.rglob("*") if p.is_file()]
    weights = [p for p in files if p.suffix in {".safetensors", ".bin", ".pt", ".ckpt", ".pth"}]
    assert sorted(p.parent.name for p in weights) == ["text_encoder", "unet", "vae"]
    assert all(p.suffix == ".safetensors" for p in weights)
    assert sum(p.stat().st_size for p in files) <= 30_000_000


def test_loads_offline_as_the_stock_pipeline(pipe):
    assert type(pipe) is StableDiffusionPipeline
    assert type(pipe.scheduler).__name__ == "DDIMScheduler"
    assert pipe.scheduler.config.timestep_spacing == "trailing"
    # 64 px pictures from 16x16x4 latents: the VAE compresses 4x per side
    assert pipe.unet.config.sample_size * pipe.vae_scale_factor == 64
    assert pipe.vae.config.latent_channels == 4 and pipe.vae_scale_factor == 4


def test_any_typed_prompt_tokenizes(pipe):
    ids = pipe.tokenizer("Zebra-crossing 🦓 42!", padding="max_length", truncation=True).input_ids
    assert len(ids) == pipe.tokenizer.model_max_length
    assert ids[0] == pipe.tokenizer.bos_token_id


@pytest.mark.parametrize("prompt, name", [("rocket", "rocket"), ("a red heart", "heavy black heart")])
def test_draws_the_emoji_it_is_asked_for(pipe, training_set, prompt, name):
    emoji, pictures = training_set
    image = quality.generate(pipe, [prompt])
    own = next(i for i, e in enumerate(emoji) if e.name == name)
    [rank] = quality.ranks(image, pictures, [[own]])
    # nearer to its own emoji than to all but at most four of the 1,300+ others
    assert rank < 5, f"{prompt!r}: its emoji ranks {rank + 1} of {len(pictures)}"


def test_guidance_matters(pipe):
    guided = quality.generate(pipe, ["rocket"], guidance=7.5).astype(float)
    unguided = quality.generate(pipe, ["rocket"], guidance=1.0).astype(float)
    assert np.abs(guided - unguided).mean() > 2


def test_training_set_has_names_and_the_ways_people_ask(training_set):
    emoji, pictures = training_set
    assert 1300 <= len(emoji) == len(pictures)
    assert pictures.shape[1:] == (64, 64, 3) and pictures.dtype == np.uint8
    heart = next(e for e in emoji if e.name == "heavy black heart")
    assert heart.captions[0] == "heavy black heart" and "red heart" in heart.captions


def test_recipe_writes_a_loadable_model_and_resumes(tmp_path, training_set, capsys):
    emoji, pictures = training_set
    folder = tmp_path / "data"
    folder.mkdir()
    # a small slice of the set keeps this fast; the recipe is the same
    np.save(folder / "pictures.npy", pictures[:16])
    (folder / "emoji.json").write_text(json.dumps([e.__dict__ for e in emoji[:16]]))
    common = ["--data", str(folder), "--checkpoints", str(tmp_path / "ck"), "--out", str(tmp_path / "m"),
              "--device", "cpu", "--vae-batch", "4", "--unet-batch", "4"]
    assert train.main(common + ["--vae-steps", "2", "--unet-steps", "2"]) == 0
    assert train.main(common + ["--vae-steps", "3", "--unet-steps", "3"]) == 0
    out = capsys.readouterr().out
    assert "vae: resumed at step 2" in out and "unet: resumed at step 2" in out
    trained = json.loads((tmp_path / "m" / "training.json").read_text())
    assert (trained["vae_steps_reached"], trained["unet_steps_reached"]) == (3, 3)
    loaded = DiffusionPipeline.from_pretrained(tmp_path / "m", local_files_only=True, use_safetensors=True)
    assert type(loaded) is StableDiffusionPipeline


def test_recipe_continues_a_trained_model(tmp_path, training_set):
    emoji, pictures = training_set
    folder = tmp_path / "data"
    folder.mkdir()
    np.save(folder / "pictures.npy", pictures[:16])
    (folder / "emoji.json").write_text(json.dumps([e.__dict__ for e in emoji[:16]]))
    common = ["--data", str(folder), "--device", "cpu", "--vae-batch", "4", "--unet-batch", "4"]
    first, second = tmp_path / "first", tmp_path / "second"
    assert train.main(common + ["--checkpoints", str(tmp_path / "ck1"), "--out", str(first),
                                "--vae-steps", "2", "--unet-steps", "2"]) == 0
    assert train.main(common + ["--checkpoints", str(tmp_path / "ck2"), "--out", str(second),
                                "--continue-from", str(first), "--unet-steps", "3",
                                "--caption-draw", "caption"]) == 0
    trained = json.loads((second / "training.json").read_text())
    assert trained["unet_steps_reached"] == 5 and trained["continued_from"]["unet_steps_reached"] == 2
    assert trained["caption_draw"] == "caption"
    vae = "vae/diffusion_pytorch_model.safetensors"
    assert (first / vae).read_bytes() == (second / vae).read_bytes()  # the VAE is kept, not retrained
    unet = "unet/diffusion_pytorch_model.safetensors"
    assert (first / unet).read_bytes() != (second / unet).read_bytes()
    for part in ("vae", "unet"):  # no local path leaks into the saved configs
        assert "_name_or_path" not in json.loads((second / part / "config.json").read_text())
