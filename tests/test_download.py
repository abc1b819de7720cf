"""The MovieLens 100K downloader, against a local HTTP server serving a fake archive."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mfstudio.data import download
from mfstudio.data.download import ML100K_MD5, default_cache_dir, download_movielens_100k
from mfstudio.data.errors import DataError

U_DATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"
# u.item is latin-1 in the real archive (accented titles), "|"-separated.
U_ITEM = (
    "242|Kolya (1996)|24-Jan-1997||http://x|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
    "302|Café Society (1995)|01-Jan-1995||http://y|0|0|0|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0\n"
)


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


FAKE_ZIP = make_zip({
    "ml-100k/": b"",
    "ml-100k/u.data": U_DATA.encode("ascii"),
    "ml-100k/u.item": U_ITEM.encode("latin-1"),
    "ml-100k/README": b"fake MovieLens for tests\n",
})
FAKE_MD5 = hashlib.md5(FAKE_ZIP).hexdigest()


class FakeServer:
    """Files served by path; counts requests; some paths misbehave on purpose."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                if self.path == "/slow.zip":
                    server.release.wait(5)
                    return
                body = server.files.get(self.path.split("?")[0].replace("/nolength", ""))
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                if not self.path.startswith("/nolength"):
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def server():
    fake = FakeServer()
    fake.files["/ml-100k.zip"] = FAKE_ZIP
    fake.thread.start()
    yield fake
    fake.release.set()
    fake.httpd.shutdown()
    fake.httpd.server_close()
    fake.thread.join(5)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_checksum_constant_is_the_published_one():
    assert ML100K_MD5 == "0e33842e24a9c977be4e0107933c0723"


def test_default_cache_dir_honours_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MFSTUDIO_DATA_DIR", str(tmp_path / "portable"))
    assert default_cache_dir() == tmp_path / "portable" / "datasets"
    monkeypatch.delenv("MFSTUDIO_DATA_DIR")
    assert default_cache_dir().name == "datasets"
    assert "mfstudio" in str(default_cache_dir())


def test_download_extracts_files_and_second_call_stays_offline(server, tmp_path):
    folder = download_movielens_100k(tmp_path / "cache", url=server.url("/ml-100k.zip"), md5=FAKE_MD5)
    assert folder == tmp_path / "cache" / "ml-100k"
    assert (folder / "u.data").read_text("ascii") == U_DATA
    assert (folder / "u.item").read_bytes() == U_ITEM.encode("latin-1")
    # Only the extracted folder remains: no zip, no temporary files.
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["ml-100k"]
    assert len(server.requests) == 1

    again = download_movielens_100k(tmp_path / "cache", url=server.url("/ml-100k.zip"), md5=FAKE_MD5)
    assert again == folder
    assert len(server.requests) == 1


def test_default_cache_dir_is_used_when_none_given(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MFSTUDIO_DATA_DIR", str(tmp_path / "data"))
    folder = download_movielens_100k(url=server.url("/ml-100k.zip"), md5=FAKE_MD5)
    assert folder == tmp_path / "data" / "datasets" / "ml-100k"
    assert (folder / "u.data").is_file()


def test_incomplete_folder_is_replaced(server, tmp_path):
    stale = tmp_path / "ml-100k"
    stale.mkdir()
    (stale / "u.item").write_text("half of an old extraction")
    folder = download_movielens_100k(tmp_path, url=server.url("/ml-100k.zip"), md5=FAKE_MD5)
    assert (folder / "u.data").read_text("ascii") == U_DATA
    assert (folder / "u.item").read_bytes() == U_ITEM.encode("latin-1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ml-100k"]


def test_wrong_md5_is_an_error_and_leaves_nothing(server, tmp_path):
    with pytest.raises(DataError, match="corrupted"):
        download_movielens_100k(tmp_path, url=server.url("/ml-100k.zip"), md5="0" * 32)
    assert list(tmp_path.iterdir()) == []


def test_http_404_names_the_url(server, tmp_path):
    url = server.url("/missing.zip")
    with pytest.raises(DataError) as info:
        download_movielens_100k(tmp_path, url=url, md5=FAKE_MD5)
    message = str(info.value)
    assert url in message and "404" in message and "File > Open" in message
    assert list(tmp_path.iterdir()) == []


def test_unreachable_server_is_a_clear_error(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/x.zip"
    with pytest.raises(DataError) as info:
        download_movielens_100k(tmp_path, url=url, md5=FAKE_MD5, timeout=5)
    assert url in str(info.value)
    assert "connection" in str(info.value)
    assert not (tmp_path / "ml-100k").exists()


def test_a_server_that_never_answers_times_out(server, tmp_path):
    with pytest.raises(DataError, match="no answer within"):
        download_movielens_100k(tmp_path, url=server.url("/slow.zip"), md5=FAKE_MD5, timeout=0.3)


def test_malformed_url_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="could not download"):
        download_movielens_100k(tmp_path, url="not a url", md5=FAKE_MD5)


def test_progress_reports_increasing_bytes(server, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "_CHUNK_BYTES", 100)
    calls = []
    download_movielens_100k(tmp_path, url=server.url("/ml-100k.zip"), md5=FAKE_MD5,
                            progress=lambda done, total: calls.append((done, total)))
    done = [d for d, _ in calls]
    assert len(calls) > 2
    assert all(b > a for a, b in zip(done, done[1:]))
    assert done[-1] == len(FAKE_ZIP)
    assert {total for _, total in calls} == {len(FAKE_ZIP)}


def test_progress_total_is_none_without_content_length(server, tmp_path):
    calls = []
    download_movielens_100k(tmp_path, url=server.url("/nolength/ml-100k.zip"), md5=FAKE_MD5,
                            progress=lambda done, total: calls.append((done, total)))
    assert calls and all(total is None for _, total in calls)
    assert calls[-1][0] == len(FAKE_ZIP)


def test_progress_returning_false_cancels(server, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "_CHUNK_BYTES", 100)
    calls = []

    def cancel_after_two(done, total):
        calls.append(done)
        return len(calls) < 2

    with pytest.raises(DataError, match="cancelled"):
        download_movielens_100k(tmp_path, url=server.url("/ml-100k.zip"), md5=FAKE_MD5, progress=cancel_after_two)
    assert len(calls) == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("evil", ["../evil", "ml-100k/../../evil", "/etc/evil", "C:\\evil", "ml-100k\\..\\..\\evil"])
def test_archive_with_unsafe_path_is_rejected(server, tmp_path, evil):
    payload = make_zip({"ml-100k/u.data": U_DATA.encode(), "ml-100k/u.item": U_ITEM.encode("latin-1"), evil: b"owned"})
    server.files["/evil.zip"] = payload
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match="unsafe path"):
        download_movielens_100k(cache, url=server.url("/evil.zip"), md5=hashlib.md5(payload).hexdigest())
    assert list(cache.iterdir()) == []
    assert not (tmp_path / "evil").exists()


def test_archive_without_movielens_files_is_rejected(server, tmp_path):
    payload = make_zip({"something/else.txt": b"hello"})
    server.files["/other.zip"] = payload
    with pytest.raises(DataError, match="does not contain MovieLens 100K"):
        download_movielens_100k(tmp_path, url=server.url("/other.zip"), md5=hashlib.md5(payload).hexdigest())
    assert list(tmp_path.iterdir()) == []


def test_not_a_zip_is_rejected(server, tmp_path):
    payload = b"<html>a captive portal page</html>"
    server.files["/portal.zip"] = payload
    with pytest.raises(DataError, match="not a readable zip"):
        download_movielens_100k(tmp_path, url=server.url("/portal.zip"), md5=hashlib.md5(payload).hexdigest())
    assert list(tmp_path.iterdir()) == []


def test_existing_complete_folder_needs_no_network(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text(U_DATA)
    (folder / "u.item").write_text(U_ITEM)
    url = f"http://127.0.0.1:{closed_port()}/x.zip"
    assert download_movielens_100k(tmp_path, url=url) == folder


def test_messages_are_one_sentence(server, tmp_path):
    with pytest.raises(DataError) as info:
        download_movielens_100k(tmp_path, url=server.url("/missing.zip"), md5=FAKE_MD5)
    message = str(info.value)
    assert message.endswith(".") and message.count(". ") == 0 and "\n" not in message


def test_cache_dir_that_cannot_be_created_is_a_data_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(DataError, match="cannot create the download folder"):
        download_movielens_100k(blocker / "cache", url="http://127.0.0.1:9/x.zip")


def test_full_disk_is_a_data_error_and_leaves_nothing(server, tmp_path, monkeypatch):
    real_fdopen = download.os.fdopen

    class FullDisk:
        def __init__(self, handle, mode):
            self.file = real_fdopen(handle, mode)

        def write(self, data):
            raise OSError(28, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

    with monkeypatch.context() as patch, pytest.raises(DataError, match="No space left"):
        patch.setattr(download.os, "fdopen", FullDisk)
        download_movielens_100k(tmp_path, url=server.url("/ml-100k.zip"), md5=FAKE_MD5)
    assert list(tmp_path.iterdir()) == []
