import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SOURCE_DATE_EPOCH", "1700000000")
