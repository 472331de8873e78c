"""ImageFetcher against a real HTTP server on 127.0.0.1: cache, retries, sha checks, failures, mirror."""

from __future__ import annotations

import json
import sqlite3

import pytest

from babelvl.pixmo import load_source
from babelvl.pixmo.fetch import FetchRequest, ImageFetcher, requests_for
from babelvl.testing.fixtures import draw_image
from babelvl.testing.pixmo_fixtures import ImageServer, fixture_images, sha256_hex, write_ama

FAST = {"backoff": 0.01, "timeout": 5}  # keep retry waits short; every request goes to 127.0.0.1


@pytest.fixture
def server():
    images = fixture_images(30)
    images["garbage.png"] = b"<html>this is not an image</html>"
    with ImageServer(images) as srv:
        yield srv


def fetcher(tmp_path, **kw) -> ImageFetcher:
    return ImageFetcher(tmp_path / "cache", **{**FAST, **kw})


def test_fetch_stores_by_content_hash_and_second_run_makes_no_request(tmp_path, server):
    urls = [server.url(f"{n}.png") for n in range(3)]
    with fetcher(tmp_path) as f:
        results = f.fetch_many(urls)
    assert [r.url for r in results] == urls and all(r.ok for r in results)
    for n, result in enumerate(results):
        expected = sha256_hex(draw_image(n))
        assert result.sha256 == expected and not result.from_cache and result.attempts == 1
        assert result.path == tmp_path / "cache" / expected[:2] / f"{expected}.img"
        assert result.path.read_bytes() == draw_image(n)
    assert server.total_requests == 3
    server.reset_counts()
    with fetcher(tmp_path) as f:  # a new run over the same cache
        again = f.fetch_many(urls)
        report = f.report()
    assert server.total_requests == 0
    assert all(r.ok and r.from_cache for r in again) and [r.path for r in again] == [r.path for r in results]
    assert (report.requested, report.from_cache, report.fetched, report.http_requests) == (3, 3, 0, 0)


def test_repeated_url_is_downloaded_once_and_same_content_shares_a_file(tmp_path, server):
    server.state.images["copy-of-0.png"] = draw_image(0)
    urls = [server.url("0.png"), server.url("0.png"), server.url("copy-of-0.png")]
    with fetcher(tmp_path) as f:
        results = f.fetch_many(urls)
        report = f.report()
    assert server.requests["/img/0.png"] == 1
    assert [r.from_cache for r in results] == [False, True, False]
    assert len({r.path for r in results}) == 1
    assert (report.fetched, report.from_cache, report.http_requests) == (2, 1, 2)


def test_sha256_is_verified_and_a_mismatch_is_remembered(tmp_path, server):
    good = sha256_hex(draw_image(1))
    wrong = "0" * 64
    with fetcher(tmp_path) as f:
        ok, bad = f.fetch_many([FetchRequest(server.url("1.png"), good.upper()),
                                FetchRequest(server.url("2.png"), wrong)])
    assert ok.ok and ok.sha256 == good
    assert not bad.ok and bad.reason == "sha256 mismatch" and bad.path is None
    assert bad.error == f"sha256 mismatch (expected {wrong}, got {sha256_hex(draw_image(2))})"
    assert not list((tmp_path / "cache").glob(f"{sha256_hex(draw_image(2))[:2]}/*"))  # not cached
    server.reset_counts()
    with fetcher(tmp_path) as f:
        again = f.fetch(server.url("2.png"), wrong)
    assert server.total_requests == 0 and again.known_failure and again.reason == "sha256 mismatch"


def test_sha256_of_an_already_cached_url_is_checked_too(tmp_path, server):
    with fetcher(tmp_path) as f:
        assert f.fetch(server.url("3.png")).ok
        result = f.fetch(server.url("3.png"), "f" * 64)
    assert not result.ok and result.from_cache and result.reason == "sha256 mismatch"


def test_server_errors_are_retried_with_backoff_until_success(tmp_path, server):
    flaky = server.script("4.png", fail_times=2, fail_status=500)
    limited = server.script("5.png", fail_times=1, fail_status=429)
    with fetcher(tmp_path, retries=3) as f:
        first, second = f.fetch_many([flaky, limited])
        report = f.report()
    assert first.ok and first.attempts == 3 and server.requests["/img/4.png"] == 3
    assert second.ok and second.attempts == 2
    assert report.http_requests == 5 and report.failed == 0


def test_retries_are_bounded(tmp_path, server):
    broken = server.script("6.png", fail_times=100, fail_status=503)
    with fetcher(tmp_path, retries=2) as f:
        result = f.fetch(broken)
    assert not result.ok and result.reason == "http 503" and result.status == 503
    assert result.attempts == 3 and server.requests["/img/6.png"] == 3
    assert "after 3 attempts" in result.error


def test_404_is_not_retried_and_is_remembered_across_runs(tmp_path, server):
    missing = server.url("missing.png")
    with fetcher(tmp_path, retries=3) as f:
        result = f.fetch(missing)
    assert not result.ok and result.reason == "http 404" and result.status == 404
    assert result.attempts == 1 and server.requests["/img/missing.png"] == 1
    with sqlite3.connect(tmp_path / "cache" / "index.sqlite") as db:
        row = db.execute("SELECT reason, status, attempts, failed_at FROM failures WHERE url = ?",
                         (missing,)).fetchone()
    assert row[:3] == ("http 404", 404, 1) and row[3]
    with fetcher(tmp_path) as f:  # next run: no request for it
        again = f.fetch(missing)
        assert f.report().known_failures == 1
    assert server.requests["/img/missing.png"] == 1
    assert again.known_failure and again.reason == "http 404" and again.error == result.error
    server.state.images["missing.png"] = draw_image(7)  # the host fixed it
    with fetcher(tmp_path, retry_failed=True) as f:
        fixed = f.fetch(missing)
    assert fixed.ok and server.requests["/img/missing.png"] == 2
    with sqlite3.connect(tmp_path / "cache" / "index.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM failures").fetchone()[0] == 0


def test_garbage_bytes_are_an_undecodable_image(tmp_path, server):
    with fetcher(tmp_path) as f:
        result = f.fetch(server.url("garbage.png"))
    assert not result.ok and result.reason == "undecodable image"
    assert result.error.startswith("undecodable image") and result.attempts == 1


def test_slow_server_times_out_as_a_network_error(tmp_path, server):
    slow = server.script("8.png", delay=1.0)
    with fetcher(tmp_path, timeout=0.2, retries=1) as f:
        result = f.fetch(slow)
    assert not result.ok and result.reason == "network error" and result.status is None
    assert "Timeout" in result.error and result.attempts == 2


def test_slow_server_within_timeout_succeeds(tmp_path, server):
    slow = server.script("9.png", delay=0.3)
    with fetcher(tmp_path, timeout=2) as f:
        assert f.fetch(slow).ok


@pytest.mark.parametrize("max_parallel", [1, 4])
def test_parallel_downloads_are_bounded(tmp_path, max_parallel):
    with ImageServer(fixture_images(16), delay=0.05) as srv:
        with fetcher(tmp_path, max_parallel=max_parallel) as f:
            results = f.fetch_many([srv.url(f"{n}.png") for n in range(16)])
        assert all(r.ok for r in results)
        assert srv.total_requests == 16
        assert srv.max_active <= max_parallel
        if max_parallel > 1:
            assert srv.max_active >= 2  # really concurrent


def test_mirror_folder_stands_in_for_urls_without_http(tmp_path, server):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "10.png").write_bytes(draw_image(10))  # by basename of the URL path
    sha11 = sha256_hex(draw_image(11))
    (mirror / sha11).write_bytes(draw_image(11))  # by sha256
    sha12 = sha256_hex(draw_image(12))
    (mirror / sha12[:2]).mkdir(exist_ok=True)
    (mirror / sha12[:2] / f"{sha12}.img").write_bytes(draw_image(12))  # another fetcher's cache
    (mirror / "13.png").write_bytes(draw_image(0))  # wrong file under the right name
    requests = [FetchRequest(server.url("10.png")), FetchRequest(server.url("11.png"), sha11),
                FetchRequest(server.url("12.png"), sha12),
                FetchRequest(server.url("13.png"), sha256_hex(draw_image(13)))]
    with fetcher(tmp_path, mirror=mirror) as f:
        results = f.fetch_many(requests)
        report = f.report()
    assert all(r.ok for r in results)
    assert [r.from_mirror for r in results] == [True, True, True, False]
    assert results[0].path == mirror / "10.png"
    assert server.total_requests == 1 and server.requests["/img/13.png"] == 1  # wrong copy: fetched
    assert (report.from_mirror, report.fetched) == (3, 1)


def test_offline_answers_from_cache_and_mirror_only(tmp_path, server):
    with fetcher(tmp_path) as f:
        f.fetch(server.url("14.png"))
    server.reset_counts()
    with fetcher(tmp_path, offline=True) as f:
        cached, absent = f.fetch_many([server.url("14.png"), server.url("15.png")])
    assert cached.ok and cached.from_cache
    assert not absent.ok and absent.reason == "not available offline"
    assert server.total_requests == 0
    with fetcher(tmp_path) as f:  # an offline miss is not remembered as a failure
        assert f.fetch(server.url("15.png")).ok


def test_invalid_urls_fail_without_a_request(tmp_path, server):
    with fetcher(tmp_path) as f:
        result = f.fetch("ftp://example.invalid/x.png")
    assert not result.ok and result.reason == "invalid url" and result.attempts == 0


def test_counts_add_up_and_failures_are_written(tmp_path, server):
    flaky = server.script("16.png", fail_times=1)
    urls = [server.url("17.png"), server.url("17.png"), flaky, server.url("nope.png"),
            server.url("nope.png"), server.url("garbage.png")]
    failures_db = tmp_path / "failures.sqlite"
    with fetcher(tmp_path, failures_db=failures_db) as f:
        results = f.fetch_many(urls)
        report = f.report()
        out = f.write_failures(tmp_path / "failures.jsonl")
    assert report.requested == len(urls) == report.ok + report.failed
    assert (report.ok, report.failed) == (sum(r.ok for r in results), sum(not r.ok for r in results))
    assert report.failed_by_reason == {"http 404": 2, "undecodable image": 1}
    assert [r.url for r in report.failures] == [urls[3], urls[4], urls[5]]
    assert report.to_json()["failed"] == 3
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(line["url"], line["reason"], line["requests"]) for line in lines] == \
        [(urls[3], "http 404", 2), (urls[5], "undecodable image", 1)]
    with sqlite3.connect(failures_db) as db:  # failures kept where asked, not in the cache index
        assert db.execute("SELECT COUNT(*) FROM failures").fetchone()[0] == 2
    with sqlite3.connect(tmp_path / "cache" / "index.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM failures").fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM urls").fetchone()[0] == 2


def test_ama_records_fetch_with_their_published_sha256(tmp_path, server):
    path = write_ama(tmp_path / "ama.parquet", server.base_url)
    records, rejected = load_source("ama", str(path)).collect()
    assert rejected == []
    requests = requests_for(records)
    assert all(r.sha256 for r in requests)
    with fetcher(tmp_path) as f:
        results = f.fetch_many(requests)
    assert all(r.ok for r in results) and len(results) == len(records)
    assert server.total_requests == 2  # four rows, two images


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="max_parallel"):
        ImageFetcher(tmp_path, max_parallel=0)
    with pytest.raises(FileNotFoundError, match="mirror"):
        ImageFetcher(tmp_path, mirror=tmp_path / "nowhere")
