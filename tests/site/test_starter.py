"""A new author's first steps: `unsmudge new X && cd X && unsmudge precompute && unsmudge build` with no
option gives a site with a demo on the embedded model, a typeset equation, a notebook lesson and a page."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys


def run(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unsmudge.cli", *args], cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ, HF_HUB_OFFLINE="1"), timeout=600)


def test_new_then_precompute_then_build_shows_demo_equation_and_notebook(tmp_path):
    made = run("new", "my-course", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "cd my-course" in made.stdout
    project = tmp_path / "my-course"
    for step in ("precompute", "build"):
        done = run(step, cwd=project)
        assert done.returncode == 0, f"{step}:\n{done.stdout}\n{done.stderr}"
    site = project / "site"
    demo = (site / "second-lesson.html").read_text()
    data = json.loads(re.search(r'<script type="application/json" id="demo-data-[^"]*">(.*?)</script>', demo, re.S)[1])
    assert [len(run["t"]) for run in data["runs"]] == [26, 26]  # 2 prompts, 25 steps + 1
    files = [url for run in data["runs"] for url in [run["poster"], *(s for v in run["views"].values() for s in v["sheets"])]]
    assert all((site / url).is_file() for url in files)
    assert '<span class="tml-eqn">(1)</span>' in demo
    assert '<a href="#eqforward" class="tml-ref tml-eqref">(1)</a>' in demo
    assert "<math" in (site / "first-lesson.html").read_text()
    notebook = (site / "a-notebook.html").read_text()
    assert '<pre class="nb-stdout">[0.659, 0.242, 0.099]' in notebook and "Download the notebook" in notebook
    assert (site / "lessons" / "a-notebook.ipynb").is_file()
    assert 'href="about.html"' in (site / "index.html").read_text()
