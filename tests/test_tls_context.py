"""The shared TLS context: built once, verified, and honouring SSL_CERT_FILE."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import certifi

from server.providers.tls import tls_context
from tests.harness import ROOT


def test_one_verified_context_for_every_thread() -> None:
    seen: list[ssl.SSLContext] = []
    threads = [threading.Thread(target=lambda: seen.append(tls_context())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and all(ctx is tls_context() for ctx in seen)
    ctx = tls_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] > 50  # certifi's bundle, not an empty store


def test_ssl_cert_file_names_another_bundle(tmp_path: Path) -> None:
    bundle = Path(certifi.where()).read_text()
    first = bundle[: bundle.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")]
    company = tmp_path / "company-ca.pem"
    company.write_text(first[first.index("-----BEGIN CERTIFICATE-----") :] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")}
    env["SSL_CERT_FILE"] = str(company)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from server.providers.tls import tls_context;"
            "print(tls_context().cert_store_stats()['x509_ca'])",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "1"
