"""Output rules: same bytes for the same inputs (zip too), the file:// and CSP rules, where it writes,
and that building never imports torch."""

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.commands import build_in_subprocess, tree
from tests.fakeframes import fake_frames
from tests.site.helpers import build, fixture_course, mini_course
from unsmudge.site import CSP

ROOT = Path(__file__).resolve().parents[2]


def test_two_builds_give_identical_bytes_including_the_zip(tmp_path, capsys):
    content, frames = fixture_course(tmp_path)
    sites = []
    for n in (1, 2):
        out, archive = tmp_path / f"site{n}", tmp_path / f"zip{n}" / "course.zip"
        archive.parent.mkdir()
        from unsmudge.cli import main
        assert main(["build", "--content", str(content), "--frames", str(frames), "--out", str(out),
                     "--zip", str(archive)]) == 0
        sites.append((tree(out), archive.read_bytes()))
    assert sites[0][0] == sites[1][0]
    assert sites[0][1] == sites[1][1]


def test_the_zip_is_sorted_dated_from_source_date_epoch_and_holds_the_site(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14 22:13:20 UTC
    content, _ = fixture_course(tmp_path)
    assert build(tmp_path, content, capsys, "--zip", str(tmp_path / "offline.zip"))[0] == 0
    with zipfile.ZipFile(tmp_path / "offline.zip") as archive:
        infos = archive.infolist()
        names = [i.filename for i in infos]
        assert names == sorted(names)
        assert {i.date_time for i in infos} == {(2023, 11, 14, 22, 13, 20)}
        site = tree(tmp_path / "site")
        assert names == [f"offline/{name}" for name in sorted(site)]
        assert archive.read("offline/index.html") == site["index.html"]


def test_pages_keep_the_file_and_csp_rules(tmp_path, capsys):
    content, _ = fixture_course(tmp_path)
    assert build(tmp_path, content, capsys)[0] == 0
    site = tmp_path / "site"
    pages = {p.name: p.read_text() for p in site.glob("*.html")}
    assert set(pages) == {"index.html", "404.html", "basics.html", "flagship.html", "after.html"}
    for name, html in pages.items():
        assert CSP.replace("'", "&#39;") in html, name
        for attrs in re.findall(r"<script\b([^>]*)>", html):
            assert "src=" in attrs or 'type="application/json"' in attrs, f"inline script in {name}"
        assert not re.search(r"\son[a-z]+=", html), f"inline event handler in {name}"
        assert " style=" not in html, f"inline style in {name}"
        assert 'type="module"' not in html
        for url in re.findall(r'<(?!base )[^>]*(?:href|src)="([^"]*)"', html):
            assert not url.startswith("/"), f"root-absolute {url} in {name}"
            if url.startswith("http") and name != "404.html":
                tag = re.search(rf'<a [^>]*href="{re.escape(url)}"[^>]*>', html)[0]
                assert 'target="_blank"' in tag and 'rel="noopener"' in tag, tag
            elif not url.startswith("http"):
                target = url.split("#")[0]
                assert not target or (site / target).is_file(), f"{name} links to missing {url}"
    for js in site.rglob("*.js"):
        text = js.read_text()
        assert "fetch(" not in text and "XMLHttpRequest" not in text and "new Worker" not in text, js
    # the base URL's path only: the 404 page keeps its styles on any host that serves the site at that path
    assert re.search(r'<base href="/fixture/">', pages["404.html"])
    assert "<loc>https://example.org/fixture/flagship.html</loc>" in (site / "sitemap.xml").read_text()
    assert (site / ".nojekyll").is_file()
    hashed = [p.name for p in (site / "assets").rglob("*") if p.suffix in (".css", ".js")]
    assert hashed and all(re.search(r"\.[0-9a-f]{10}\.(css|js)$", name) for name in hashed)


def test_demo_pages_get_the_slider_assets_and_others_do_not(tmp_path, capsys):
    content, _ = fixture_course(tmp_path)
    assert build(tmp_path, content, capsys)[0] == 0
    flagship = (tmp_path / "site" / "flagship.html").read_text()
    basics = (tmp_path / "site" / "basics.html").read_text()
    assert re.search(r'<script src="assets/js/slider\.[0-9a-f]{10}\.js" defer>', flagship)
    assert re.search(r'href="assets/css/slider\.[0-9a-f]{10}\.css"', flagship)
    assert "slider" not in basics
    assert '<script type="application/json" id="demo-data-tiny">{"id":"tiny","runs":[{"prompt":"red"' in flagship


def test_base_url_flag_overrides_the_course(tmp_path, capsys):
    content, _ = fixture_course(tmp_path)
    assert build(tmp_path, content, capsys, "--base-url", "https://me.github.io/c")[0] == 0
    assert "<loc>https://me.github.io/c/index.html</loc>" in (tmp_path / "site" / "sitemap.xml").read_text()


def test_refuses_an_output_folder_that_holds_the_sources(tmp_path, capsys):
    content = mini_course(tmp_path)
    from unsmudge.cli import main
    code = main(["build", "--content", str(content), "--frames", str(tmp_path / "b"), "--out", str(tmp_path)])
    assert code == 1 and "the output folder contains the content folder" in capsys.readouterr().err
    assert (content / "course.toml").exists()


def test_refuses_to_replace_a_folder_it_did_not_build(tmp_path, capsys):
    content = mini_course(tmp_path)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "notes.txt").write_text("precious")
    code, err = build(tmp_path, content, capsys)
    assert code == 1 and "is not a site unsmudge built" in err
    assert (tmp_path / "site" / "notes.txt").read_text() == "precious"


def test_build_never_imports_torch_nor_precompute_and_fails_without_traceback(tmp_path):
    content, frames = fixture_course(tmp_path)
    script = (
        "import sys\n"
        "from unsmudge.cli import main\n"
        f"code = main(['build', '--content', {str(content)!r}, '--frames', {str(frames)!r}, "
        f"'--out', {str(tmp_path / 'site')!r}, '--zip', {str(tmp_path / 'c.zip')!r}])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'diffusers', 'transformers')\n"
        "               or m.startswith('unsmudge.precompute'))\n"
        "print('heavy:', heavy)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert done.returncode == 0, done.stderr
    assert "heavy: []" in done.stdout

    (content / "lessons" / "after.md").write_text("no front matter\n")
    done = build_in_subprocess(content, frames, tmp_path / "site")
    assert done.returncode == 1
    assert "after.md: line 1: no front matter" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("model", ["./missing-model", "models/missing"])  # the second reads like a hub id
def test_build_needs_no_weights_only_the_frames(tmp_path, capsys, model):
    """A CI checkout: the demo names a local model folder that is not there; the frames are in build/."""
    content, frames = fixture_course(tmp_path, frames=False)
    spec = content / "demos" / "tiny.toml"
    spec.write_text(spec.read_text().replace('model = "./model"', f'model = "{model}"'))
    assert f'model = "{model}"' in spec.read_text() and not (content / model).exists()
    runs = fake_frames(content, frames)
    code, err = build(tmp_path, content, capsys)
    assert code == 0, err
    copied = {p.read_bytes() for p in (tmp_path / "site" / "frames").iterdir()}
    assert copied == {f.read_bytes() for run in runs for f in run.iterdir() if f.name != "run.json"}
    assert len(runs) == 2


def test_forked_workers_give_the_same_site_as_one_process(tmp_path):
    from unsmudge.site import Builder, Options

    ids = [f"l{n:02d}" for n in range(34)]
    content = tmp_path / "content"
    (content / "lessons").mkdir(parents=True)
    (content / "course.toml").write_text(f'title = "Many"\nlessons = {ids!r}\n[[tracks]]\nid = "t"\ntitle = "T"\n'
                                         .replace("'", '"'))
    for n, lesson in enumerate(ids):
        link = f"[back]({ids[n - 1]}.md#part-{n - 1})" if n else "first"
        (content / "lessons" / f"{lesson}.md").write_text(
            f'+++\ntitle = "L{n}"\nmodule = {n}\ntrack = "t"\n+++\n## Part {n}\n\n{link}\n\n```python\nx = {n}\n```\n')
    one = Builder(Options(content=content, frames=tmp_path / "b", jobs=1)).gather()
    two = Builder(Options(content=content, frames=tmp_path / "b", jobs=2)).gather()
    assert one == two and len(one) > 34


def test_the_default_slider_partial_shows_frames_that_exist(tmp_path, capsys):
    content, _ = fixture_course(tmp_path)
    assert build(tmp_path, content, capsys)[0] == 0
    site = tmp_path / "site"
    flagship = (site / "flagship.html").read_text()
    data = re.search(r'<script type="application/json" id="demo-data-tiny">(.*?)</script>', flagship, re.S)[1]
    runs = json.loads(data)["runs"]
    assert [run["prompt"] for run in runs] == ["red", "blue"]
    for run in runs:
        assert len(run["t"]) == 4  # 3 steps, then the finished picture
        for url in [run["poster"], *(sheet for view in run["views"].values() for sheet in view["sheets"])]:
            assert (site / url).is_file(), url
    # the no-JavaScript filmstrip cuts the first run's frames from its image sheet; the canvas starts from its poster
    assert set(re.findall(r'<image href="(frames/[^"]+)"', flagship)) == set(runs[0]["views"]["image"]["sheets"])
    assert re.findall(r'<img [^>]*src="(frames/[^"]+)"', flagship) == [runs[0]["poster"]]


def test_a_zip_inside_the_output_folder_survives_the_swap(tmp_path, capsys):
    content, _ = fixture_course(tmp_path)
    assert build(tmp_path, content, capsys, "--zip", str(tmp_path / "site" / "course.zip"))[0] == 0
    with zipfile.ZipFile(tmp_path / "site" / "course.zip") as archive:
        assert "course/index.html" in archive.namelist()


def test_an_error_while_writing_leaves_the_previous_site_and_no_staging(tmp_path, capsys):
    from unsmudge.site import write_site

    content, _ = fixture_course(tmp_path)
    assert build(tmp_path, content, capsys)[0] == 0
    before = tree(tmp_path / "site")
    try:
        write_site({"index.html": b"new", "media/gone.png": tmp_path / "no-such-file.png"}, tmp_path / "site")
    except FileNotFoundError:
        pass
    else:
        raise AssertionError("copying a missing file must fail")
    assert tree(tmp_path / "site") == before
    assert not any(p.name.startswith(".staging-") for p in tmp_path.iterdir())


def test_a_rebuild_links_the_files_the_output_already_holds_and_writes_the_others(tmp_path):
    from unsmudge.site import write_site

    source, out = tmp_path / "picture.png", tmp_path / "site"
    source.write_bytes(b"png")
    write_site({"same.html": b"same", "edited.html": b"old", "gone.html": b"gone", "media/p.png": source}, out)
    inode = {rel: (out / rel).stat().st_ino for rel in ("same.html", "edited.html", "media/p.png")}
    write_site({"same.html": b"same", "edited.html": b"new", "added.html": b"added", "media/p.png": source}, out)
    assert tree(out) == {"added.html": b"added", "edited.html": b"new", "media/p.png": b"png", "same.html": b"same"}
    assert (out / "same.html").stat().st_ino == inode["same.html"]  # linked from the site it replaced
    assert (out / "media/p.png").stat().st_ino == inode["media/p.png"]
    assert (out / "edited.html").stat().st_ino != inode["edited.html"]
    assert source.stat().st_nlink == 1  # a source file is copied, never linked into the site
    source.write_bytes(b"new png")
    write_site({"media/p.png": source}, out)
    assert tree(out) == {"media/p.png": b"new png"}


def test_a_rebuild_replaces_a_link_in_the_output_without_following_it(tmp_path):
    from unsmudge.site import write_site

    outside, out = tmp_path / "outside.html", tmp_path / "site"
    page = b"p" * len(os.fsencode(outside))  # as long as the link itself, so that sizes alone tell nothing
    outside.write_bytes(page)
    out.mkdir()
    (out / "page.html").symlink_to(outside)
    write_site({"page.html": page}, out)
    assert not (out / "page.html").is_symlink() and (out / "page.html").read_bytes() == page
    assert outside.stat().st_nlink == 1 and outside.read_bytes() == page


def test_rebuilding_after_an_edit_writes_the_pages_and_search_index_and_links_the_rest(tmp_path, capsys):
    content, _ = fixture_course(tmp_path)
    assert build(tmp_path, content, capsys)[0] == 0
    site = tmp_path / "site"

    def inodes() -> dict[str, int]:
        return {p.relative_to(site).as_posix(): p.stat().st_ino for p in site.rglob("*") if p.is_file()}

    before = inodes()
    lesson = sorted((content / "lessons").glob("*.md"))[-1]
    lesson.write_text(lesson.read_text() + "\nOne more paragraph.\n")
    assert build(tmp_path, content, capsys)[0] == 0
    written = {rel for rel, inode in inodes().items() if before.get(rel) != inode}
    # every page names the search index, whose name holds a hash of its bytes
    pages = {rel for rel in before if rel.endswith(".html")}
    index = {rel for rel in written if rel.startswith("assets/search-index.")}
    assert f"{lesson.stem}.html" in written and len(index) == 1 and written - pages == index
    assert sum(rel.startswith(("frames/", "media/", "assets/")) for rel in before) > 10  # the files linked


@pytest.mark.parametrize("unbuffered", ["1", ""])  # the report written at once, or when the process ends
def test_a_build_whose_reader_went_away_ends_quietly(tmp_path, unbuffered):
    content, frames = fixture_course(tmp_path)
    read, write = os.pipe()
    os.close(read)  # as `unsmudge build | head -0` does
    try:
        done = subprocess.run([sys.executable, "-m", "unsmudge.cli", "build", "--content", str(content), "--frames",
                               str(frames), "--out", str(tmp_path / "site")], stdout=write, stderr=subprocess.PIPE,
                              text=True, env=dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED=unbuffered))
    finally:
        os.close(write)
    assert done.stderr == "" and done.returncode == 1
    assert (tmp_path / "site" / "index.html").is_file()
