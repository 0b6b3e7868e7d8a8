"""The diffusion stage: demo specs -> diffusers runs -> frames and run.json files in build/.

Only `precompute.spec` and `precompute.plan` may be imported by the build stage: they never import torch.
"""
