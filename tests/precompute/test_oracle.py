"""Every setting the demo spec accepts gives right pictures, checked against an oracle.

The oracle is a UNet (same call signature as diffusers' UNet2DConditionModel, inside a real
StableDiffusionPipeline built in code) that knows the clean latent x0: given x_t and t it returns the exact
noise (or v) that leads back to x0, computed from the scheduler's own alphas_cumprod. With such a model:

- the prediction view must equal x0 at every step;
- each image and forward frame must be what its T label says: x0 * sqrt(alpha(T)) plus noise of size
  sqrt(1 - alpha(T)) (fitted on the latent: the x0 coefficient by projection, the noise by the rest).

The capture is checked on its latents (`capture.denoise`), before decoding, for every scheduler x spacing x
prediction type x step count the spec accepts; the tolerances are explained where they are defined. The
settings that fail are refused by the spec (`contract.DemoSpec`), and the oracle is shown to catch them.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput
from pydantic import ValidationError
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from tests.precompute.conftest import write_demo
from tests.tiny import SD_SCHEDULER, write_clip_tokenizer
from unsmudge.contract import LEADING_START, DemoSpec, load_demo
from unsmudge.precompute import pipeline as pl
from unsmudge.precompute.capture import denoise
from unsmudge.problems import ProblemsFound

SIZE = 256  # pixels; the VAE below halves them: a 128 x 128 x 4 latent
SCHEDULERS = ("ddim", "euler", "euler_a", "lms")
SPACINGS = ("trailing", "leading", "linspace")
PREDICTIONS = ("epsilon", "v_prediction")
STEP_COUNTS = (1, 2, 5, 25)
ALPHAS = DDIMScheduler.from_config(SD_SCHEDULER).alphas_cumprod.double()  # Stable Diffusion's schedule
FIT = 0.02  # five times the fit's spread on 65536 numbers (1 / sqrt(65536) = 0.004)
# Every run starts from pure noise, while Stable Diffusion's schedule never reaches it: T = 999 still holds
# sqrt(alphas_cumprod[999]) = 0.068 of x0. The spec accepts "leading" starts from T = 950 (0.091), so a
# frame may miss its label by that much, plus the fit.
LABEL_TOLERANCE = ALPHAS[LEADING_START].sqrt().item() + FIT
# The finished picture is x0 up to DDIM's last step, which ends at alphas_cumprod[0], one training step of
# noise (sqrt(1 - 0.99915) = 0.029; Euler and LMS end at sigma = 0), plus the fit.
FINAL_TOLERANCE = (1 - ALPHAS[0]).sqrt().item() + FIT
PREDICTION_TOLERANCE = 1e-3  # an exact inversion in float32, relative to x0's size


def settings() -> list[tuple[str, str, str, int]]:
    return list(itertools.product(SCHEDULERS, SPACINGS, PREDICTIONS, STEP_COUNTS))


def accepted(scheduler: str, spacing: str, steps: int) -> bool:
    try:
        DemoSpec(title="oracle", scheduler=scheduler, timestep_spacing=spacing, steps=steps, prompts=["oracle"])
    except ValidationError:
        return False
    return True


def name(setting: tuple) -> str:
    return "-".join(map(str, setting))


ACCEPTED = [s for s in settings() if accepted(s[0], s[1], s[3])]
REFUSED = [s for s in settings() if not accepted(s[0], s[1], s[3])]


class OracleUNet(UNet2DConditionModel):
    """Returns, for x_t at t, the epsilon (or v) of the known clean latent `clean`: exact, not learned."""

    def forward(self, sample, timestep, encoder_hidden_states, *args, return_dict=True, **kwargs):
        alpha = self.alpha(float(timestep))
        x0 = self.clean.to(sample.device, sample.dtype)
        eps = (sample - math.sqrt(alpha) * x0) / math.sqrt(1 - alpha)
        out = eps if self.prediction == "epsilon" else math.sqrt(alpha) * eps - math.sqrt(1 - alpha) * x0
        return UNet2DConditionOutput(sample=out) if return_dict else (out,)

    def alpha(self, t: float) -> float:
        """alphas_cumprod at t; between whole steps through the sigmas, linearly, as Euler and LMS do."""
        return alpha_at(self.train_sigmas, t)


def alpha_at(train_sigmas: np.ndarray, t: float) -> float:
    sigma = float(np.interp(t, np.arange(len(train_sigmas)), train_sigmas))
    return 1 / (1 + sigma**2)


@pytest.fixture(scope="module")
def oracle(tmp_path_factory) -> StableDiffusionPipeline:
    """A StableDiffusionPipeline around the oracle UNet (tiny text encoder and VAE; the VAE never runs)."""
    tokens = tmp_path_factory.mktemp("oracle") / "tokenizer"
    vocabulary = write_clip_tokenizer(tokens, 16)
    torch.manual_seed(0)
    unet = OracleUNet(sample_size=SIZE // 2, block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=8,
                      cross_attention_dim=16, attention_head_dim=4,
                      down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                      up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"))
    alphas = DDIMScheduler.from_config(SD_SCHEDULER).alphas_cumprod.double().numpy()
    unet.train_sigmas = ((1 - alphas) / alphas) ** 0.5
    unet.clean = torch.randn((1, 4, SIZE // 2, SIZE // 2), generator=torch.Generator().manual_seed(1234))
    vae = AutoencoderKL(block_out_channels=(8, 16), norm_num_groups=8, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    text = CLIPTextModel(CLIPTextConfig(vocab_size=vocabulary, hidden_size=16, intermediate_size=32,
                                        num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=16,
                                        bos_token_id=0, eos_token_id=1, pad_token_id=1))
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=CLIPTokenizer.from_pretrained(tokens),
                                   unet=unet, scheduler=DDIMScheduler.from_config(SD_SCHEDULER), safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def residuals(pipe, scheduler: str, spacing: str, prediction: str, steps: int, seed: int = 0) -> dict[str, float]:
    """How far one run's latents are from the oracle's truth, each relative to x0's size:
    'prediction': the worst step's predicted x0 against x0;
    'label': the worst image or forward frame against its T label (`label_error`);
    'final': the finished picture's latent against x0."""
    pipe.unet.prediction = prediction
    loaded = pl.Loaded(pipe, dict(SD_SCHEDULER, prediction_type=prediction), DDIMScheduler)
    spec = DemoSpec.model_construct(title="oracle", scheduler=scheduler, timestep_spacing=spacing, steps=steps,
                                    size=SIZE, negative_prompt="", vae_tiling=False, prompts=["oracle"])
    pl.use_scheduler(loaded, spec)
    trajectory = denoise(loaded, spec, "oracle", seed, 7.5)
    x0 = pipe.unet.clean[0].double()
    labelled = [*zip(trajectory.images, trajectory.timesteps), *zip(trajectory.forward, trajectory.timesteps)]
    return {"prediction": max(distance(p, x0) for p in trajectory.predictions),
            "label": max(label_error(latent.double(), x0, ALPHAS[t].item()) for latent, t in labelled),
            "final": distance(trajectory.images[-1], x0)}


def distance(latent: torch.Tensor, x0: torch.Tensor) -> float:
    return ((latent.double() - x0).pow(2).mean().sqrt() / x0.pow(2).mean().sqrt()).item()


def label_error(latent: torch.Tensor, x0: torch.Tensor, alpha: float) -> float:
    """How far a latent is from x0 * sqrt(alpha) + noise * sqrt(1 - alpha): the x0 coefficient by
    projection, the noise as the size of the rest (whatever noise it is: the ancestral sampler's is fresh
    at every step); the larger of the two differences."""
    clean = (latent * x0).sum() / (x0 * x0).sum()
    noise = (latent - clean * x0).pow(2).mean().sqrt() / x0.pow(2).mean().sqrt()
    return max(abs(clean.item() - math.sqrt(alpha)), abs(noise.item() - math.sqrt(1 - alpha)))


@pytest.mark.parametrize("scheduler, spacing, prediction, steps", ACCEPTED, ids=map(name, ACCEPTED))
def test_accepted_settings_give_right_pictures(oracle, scheduler, spacing, prediction, steps):
    errors = residuals(oracle, scheduler, spacing, prediction, steps)
    assert errors["prediction"] < PREDICTION_TOLERANCE, errors
    assert errors["label"] < LABEL_TOLERANCE, errors
    assert errors["final"] < FINAL_TOLERANCE, errors


CAUGHT = [("ddim", "linspace", "epsilon", 5), ("euler", "leading", "v_prediction", 5), ("lms", "linspace", "epsilon", 1),
          ("euler_a", "leading", "epsilon", 2)]


@pytest.mark.parametrize("scheduler, spacing, prediction, steps", CAUGHT, ids=map(name, CAUGHT))
def test_the_oracle_catches_what_the_spec_refuses(oracle, scheduler, spacing, prediction, steps):
    assert (scheduler, spacing, prediction, steps) in REFUSED
    errors = residuals(oracle, scheduler, spacing, prediction, steps)
    assert errors["label"] > 1.5 * LABEL_TOLERANCE or errors["final"] > 1.5 * FINAL_TOLERANCE, errors


def test_every_spacing_and_scheduler_keeps_settings():
    """Nothing is refused wholesale: each scheduler keeps each spacing at some step count (DDIM: not
    linspace), and trailing everywhere."""
    kept = {(s, sp) for s, sp, _, _ in ACCEPTED}
    assert kept == {(s, sp) for s in SCHEDULERS for sp in SPACINGS} - {("ddim", "linspace")}
    assert all((s, "trailing", p, n) in ACCEPTED for s, _, p, n in settings())


@pytest.mark.parametrize("fields, words", [
    ({"steps": 1, "timestep_spacing": "linspace", "scheduler": "euler"}, "runs that step at T = 0"),
    ({"steps": 30, "timestep_spacing": "linspace"}, "DDIM steps down by 1000 // steps = 33"),
    ({"steps": 5, "timestep_spacing": "leading", "scheduler": "lms"}, "leading spacing starts at T = 801"),
])
def test_a_refused_setting_names_its_line_and_the_fix(tmp_path, fields, words):
    path = write_demo(tmp_path, "demo", "embedded", **fields)
    with pytest.raises(ProblemsFound) as caught:
        load_demo(path)
    (problem,) = caught.value.problems
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("timestep_spacing"))
    assert problem.where == f"line {line}, key 'timestep_spacing'"
    assert words in problem.message and 'use timestep_spacing = "trailing"' in problem.message
