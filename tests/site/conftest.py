import os

os.environ["HF_HUB_OFFLINE"] = "1"  # tests never download, whatever the shell says
os.environ.setdefault("SOURCE_DATE_EPOCH", "1700000000")
