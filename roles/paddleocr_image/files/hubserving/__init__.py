"""The OCR image's HTTP server: HubServing's API, PaddleOCR 3.x serving's /ocr and operators' routes (serve.py
runs it under gunicorn)."""
