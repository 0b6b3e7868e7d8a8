"""`unsmudge import`: an MkDocs project or a plain markdown tree becomes a course folder.

Both sources are read into one navigation tree (`nav.py`); `outline.py` turns it into tracks and lessons,
`links.py` rewrites links and asset paths to the course layout, `course_folder.py` writes the folder in one
swap, and `notes.py` lists what could not be carried over. The source is never written to.
"""
