"""The diffusion stage: demo specs -> diffusers runs -> frames and run.json files in build/.

The build stage never imports this package: what both stages share is `unsmudge.contract`.
"""
