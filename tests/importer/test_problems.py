"""Mistakes stop the import with a Problem (file, line or key, fix), exit 1, no traceback, nothing
written; an existing course is replaced only with --force."""

from __future__ import annotations

import sys

import pytest

from tests.commands import tree
from tests.importer.helpers import PROJECTS, project, run_import
from tests.site.helpers import write_tree


def failed(capsys, kind, path, out, *extra) -> str:
    code, printed, err = run_import(capsys, kind, path, out, *extra)
    assert code == 1 and printed == ""
    assert "Traceback" not in err and "nothing was written" in err
    return err


def test_rerunning_over_a_course_refuses_without_force(tmp_path, capsys):
    out = tmp_path / "content"
    assert run_import(capsys, "mkdocs", PROJECTS / "mkdocs-nav", out)[0] == 0
    (out / "lessons/about.md").write_text("edited by hand")
    err = failed(capsys, "mkdocs", PROJECTS / "mkdocs-nav", out)
    assert f"{out}: the output folder already holds a course\n    fix: pass --force" in err
    assert (out / "lessons/about.md").read_text() == "edited by hand"
    assert run_import(capsys, "mkdocs", PROJECTS / "mkdocs-nav", out, "--force")[0] == 0
    assert (out / "lessons/about.md").read_text() != "edited by hand"
    assert not list(tmp_path.glob(".staging-*"))


def test_force_never_replaces_a_folder_that_is_not_a_course(tmp_path, capsys):
    out = tmp_path / "notes"
    write_tree(out, "-- todo.txt --\nmine\n")
    err = failed(capsys, "mkdocs", PROJECTS / "mkdocs-nav", out, "--force")
    assert "the output folder exists and is not a course" in err
    assert (out / "todo.txt").read_text() == "mine\n"


def test_the_output_cannot_hold_the_source(tmp_path, capsys):
    source = project(tmp_path, "markdown-tree")
    err = failed(capsys, "markdown", source, tmp_path, "--force")
    assert "the output folder holds the source folder" in err


def test_an_output_inside_the_source_is_not_read_as_pages(tmp_path, capsys):
    source = project(tmp_path, "markdown-tree")
    out = source / "course"
    assert run_import(capsys, "markdown", source, out)[0] == 0
    before = tree(out)
    assert run_import(capsys, "markdown", source, out, "--force")[0] == 0
    assert tree(out) == before


def test_no_mkdocs_yml(tmp_path, capsys):
    err = failed(capsys, "mkdocs", tmp_path, tmp_path / "content")
    assert "no mkdocs.yml here\n    fix: pass the folder that holds mkdocs.yml, or import a plain markdown " \
           "tree with `unsmudge import markdown`" in err


def test_invalid_yaml_names_the_line(tmp_path, capsys):
    source = project(tmp_path, "mkdocs-nav")
    (source / "mkdocs.yml").write_text("site_name: Notes\nnav:\n  - Home: index.md\n   - bad: [\n")
    err = failed(capsys, "mkdocs", source, tmp_path / "content")
    assert "mkdocs.yml: line 4: invalid YAML:" in err and "fix: fix the YAML syntax" in err
    assert not (tmp_path / "content").exists()


def test_every_page_with_broken_front_matter_is_reported_at_once(tmp_path, capsys):
    source = project(tmp_path, "mkdocs-nav")
    (source / "docs/nets/mlp.md").write_text("---\ntitle: MLP\ndescription: [unclosed\n---\n\n# MLP\n")
    (source / "docs/about.md").write_text("---\n- a list\n---\ntext\n")
    err = failed(capsys, "mkdocs", source, tmp_path / "content")
    assert "docs/nets/mlp.md: line 4: invalid YAML" in err
    assert "docs/about.md: line 2: the front matter is not a set of 'key: value' lines" in err
    assert "2 problems found" in err
    assert not (tmp_path / "content").exists()


def test_a_failed_import_leaves_the_previous_course(tmp_path, capsys):
    source, out = project(tmp_path, "mkdocs-nav"), tmp_path / "content"
    assert run_import(capsys, "mkdocs", source, out)[0] == 0
    before = tree(out)
    (source / "docs/nets/mlp.md").write_bytes(b"# MLP\n\xff\xfe not UTF-8\n")
    err = failed(capsys, "mkdocs", source, out, "--force")
    assert "docs/nets/mlp.md: cannot read the page" in err and "fix: save it as UTF-8 text" in err
    assert tree(out) == before


def test_a_nav_entry_that_cannot_be_read(tmp_path, capsys):
    source = project(tmp_path, "mkdocs-nav")
    (source / "mkdocs.yml").write_text("site_name: Notes\nnav:\n  - index.md\n  - 42\n")
    err = failed(capsys, "mkdocs", source, tmp_path / "content")
    assert "mkdocs.yml: line 4: cannot read the nav entry '42'" in err


def test_a_broken_nav_file_of_the_plugin(tmp_path, capsys):
    source = project(tmp_path, "mkdocs-awesome-nav")
    (source / "docs/01-linear-algebra/.nav.yml").write_text("title: Algebra\nnav: vectors.md\n")
    err = failed(capsys, "mkdocs", source, tmp_path / "content")
    assert "docs/01-linear-algebra/.nav.yml: line 2: 'nav' must be a list of entries" in err


def test_the_docs_folder_must_exist(tmp_path, capsys):
    write_tree(tmp_path / "site-src", "-- mkdocs.yml --\nsite_name: Notes\ndocs_dir: pages\n")
    err = failed(capsys, "mkdocs", tmp_path / "site-src", tmp_path / "content")
    assert "mkdocs.yml: line 2: the docs folder" in err and "does not exist" in err


def test_a_source_without_pages(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    err = failed(capsys, "markdown", tmp_path / "empty", tmp_path / "content")
    assert "found no page to import" in err


def test_without_pyyaml_the_fix_is_the_pip_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` raises ImportError
    err = failed(capsys, "mkdocs", PROJECTS / "mkdocs-nav", tmp_path / "content")
    assert "reading YAML needs PyYAML, which is not installed\n    fix: run `pip install pyyaml`" in err


@pytest.mark.parametrize("kind", ["mkdocs", "markdown"])
def test_a_missing_source_folder(tmp_path, capsys, kind):
    err = failed(capsys, kind, tmp_path / "nowhere", tmp_path / "content")
    assert "nowhere" in err


def test_a_settings_file_that_is_not_utf8(tmp_path, capsys):
    source = project(tmp_path, "mkdocs-awesome-nav")
    (source / "docs/02-probability/.nav.yml").write_bytes(b"title: Probabilit\xe9\n")
    err = failed(capsys, "mkdocs", source, tmp_path / "content")
    assert "docs/02-probability/.nav.yml: cannot read the file" in err and "fix: save it as UTF-8 text" in err


def test_a_markdown_tree_reports_every_broken_page_at_once(tmp_path, capsys):
    source = project(tmp_path, "markdown-tree")
    (source / "README.md").write_text("---\ntitle: [unclosed\n---\n# Course\n")
    (source / "2-Regression/README.md").write_text("---\n- a list\n---\n# Regression\n")
    err = failed(capsys, "markdown", source, tmp_path / "content")
    assert "markdown-tree/README.md: line 3: invalid YAML" in err
    assert "2-Regression/README.md: line 2: the front matter is not a set" in err
