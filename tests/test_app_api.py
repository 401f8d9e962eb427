"""The running app, through its HTTP API: every api_name, and hostile uploads that must come back as clear errors.

``app_url`` (conftest) starts ``python app.py`` on a free loopback port with a fake zoo; calls go through
``gradio_client`` exactly as a remote user's would.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from corpus import _png_bomb, make_corpus
from lska_demo.core.runtime import ASSETS_DIR

API_NAMES = {"compare", "erf", "attention", "cost", "teach", "export", "transfer", "onnx", "zoo", "diagram"}
EXAMPLE = ASSETS_DIR / "benchmark-test-00001.jpg"


@pytest.fixture(scope="module")
def client(app_url: str, tmp_path_factory: pytest.TempPathFactory) -> Client:
    return Client(app_url, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


def _compare(client: Client, image: Path, k: int = 23, point: str = "sppf", source: str = "zoo") -> tuple:
    return client.predict(handle_file(str(image)), k, point, "gate", source, 0.25, 0.7, api_name="/compare")


def test_every_handler_has_its_api_name(client: Client) -> None:
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {name.lstrip("/") for name in named} >= API_NAMES


def test_compare_both_sides_trained(client: Client) -> None:
    base_img, var_img, base_md, var_md, base_tab, _, _, raw = _compare(client, EXAMPLE)
    assert Path(base_img).is_file() and Path(var_img).is_file()
    assert "yolov8n-s0" in base_md and "yolov8n-lska23-sppf-s0" in var_md
    assert base_tab["headers"][:2] == ["label", "score"]
    assert raw["imgsz"] == 256 and raw["baseline"]["trained"] and raw["variant"]["trained"]


def test_compare_untrained_variant_shows_no_image(client: Client) -> None:
    base_img, var_img, _, var_md, _, _, _, raw = _compare(client, EXAMPLE, k=11, point="head")
    assert base_img is not None and var_img is None
    assert "Untrained" in var_md and raw["variant"]["detections"] is None


def test_hostile_uploads_are_clear_errors_and_the_server_survives(client: Client, tmp_path: Path) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    _png_bomb(tmp_path / "bomb-100mp.png", side=10_000)
    hostile = {
        "corrupt.jpg": "damaged|not an image",
        "not-an-image.jpg": "not an image",
        "one-pixel.png": "at least 8",
        "bomb.png": "megapixels",
        "truncated.jpg": "damaged or truncated",
        "empty.png": "empty",
    }
    files = {name: corpus[name][0] for name in hostile} | {"bomb-100mp.png": tmp_path / "bomb-100mp.png"}
    hostile["bomb-100mp.png"] = "megapixels"
    for name, path in files.items():
        with pytest.raises(AppError, match=hostile[name]) as caught:
            _compare(client, path)
        assert "Traceback" not in str(caught.value), name
    with pytest.raises(AppError, match="megapixels"):
        client.predict(
            [handle_file(str(files["bomb.png"]))], 23, "sppf", "gate", "zoo", 1, "insertion point", api_name="/erf"
        )
    base_img, var_img, *_ = _compare(client, EXAMPLE)  # still serving
    assert base_img and var_img


def test_invalid_arguments_are_clear_errors(client: Client) -> None:
    with pytest.raises(AppError, match=r"insertion point|choices"):
        _compare(client, EXAMPLE, point="backbone")
    with pytest.raises(AppError, match=r"7, 11, 23, 35, 41, 53|choices"):
        _compare(client, EXAMPLE, k=24)
    with pytest.raises(AppError, match="no image"):
        client.predict(None, 23, "sppf", "gate", "zoo", 0.25, 0.7, api_name="/compare")


def test_erf(client: Client) -> None:
    figure, ratios, note = client.predict(None, 23, "sppf", "gate", "zoo", 1, "insertion point", api_name="/erf")
    assert Path(figure).is_file() and len(ratios["data"]) == 4 and "1 image" in note


def test_attention(client: Client) -> None:
    stages, base_cam, var_cam, _ = client.predict(
        handle_file(str(EXAMPLE)), 23, "sppf", "gate", "zoo", "eigen", api_name="/attention"
    )
    assert all(Path(p).is_file() for p in (stages, base_cam, var_cam))


def test_cost_with_latency(client: Client) -> None:
    summary, layers, lska, note = client.predict(23, "sppf", "gate", 256, True, api_name="/cost")
    assert summary["headers"][:3] == ["model", "params", "GFLOPs"] and "latency median ms" in summary["headers"]
    assert [row[0] for row in summary["data"]][-1] == "difference"
    assert layers["data"] and lska["data"] and "256x256" in note


def test_teach_export_zoo_diagram(client: Client) -> None:
    html, text, weights, dilation, _, erf, _, cost_k, cost_note = client.predict(41, api_name="/teach")
    assert "41" in html and "2·5 + 2·13 = 36" in text and len(weights["data"]) == 6
    assert all(Path(p).is_file() for p in (dilation, erf, cost_k)) and "k=41" in cost_note
    yaml_text, snippet = client.predict(41, "neck", "gate", "n", 4, api_name="/export")
    assert "LSKA" in yaml_text and "nc: 4" in yaml_text and "--k 41 --point neck" in snippet
    pair, table, _ = client.predict(23, "sppf", "gate", api_name="/zoo")
    assert [row[1] for row in pair["data"]] == ["yolov8n-s0", "yolov8n-lska23-sppf-s0"]
    assert len(table["data"]) == 5  # three full fine-tunes and an adapter pair (conftest.fake_zoo)
    diagram, layer = client.predict(23, "neck", "gate", api_name="/diagram")
    assert "neck" in diagram and "<svg" in diagram and "end of backbone" in str(layer)  # a dropdown update: its choices


def test_design_is_the_last_argument_of_every_variant_endpoint(client: Client) -> None:
    yaml_text, snippet = client.predict(23, "sppf", "gate", "n", 4, "lka", api_name="/export")
    assert "LKA, [c2, 23]]" in yaml_text and "LSKA" not in yaml_text and "--design lka" in snippet
    pair, _, _ = client.predict(23, "sppf", "gate", "lka", api_name="/zoo")
    assert [row[1] for row in pair["data"]] == ["yolov8n-s0", "yolov8n-lka23-sppf"]  # the fake zoo has no LKA
    *_, var_md, _, _, _, raw = client.predict(
        handle_file(str(EXAMPLE)), 23, "sppf", "gate", "zoo", 0.25, 0.7, "lka", api_name="/compare"
    )
    assert "yolov8n-lka23-sppf" in var_md and not raw["variant"]["trained"]
    summary, _, gates, _ = client.predict(23, "sppf", "gate", 256, False, "zoo", "lka", api_name="/cost")
    assert summary["data"][1][0] == "YOLOv8n + LKA k=23 at sppf" and gates["data"]
    stages, *_ = client.predict(
        handle_file(str(EXAMPLE)), 23, "sppf", "gate", "zoo", "eigen", "lka", api_name="/attention"
    )
    assert Path(stages).is_file()
    with pytest.raises(AppError, match="LSKA only"):
        client.predict(23, "sppf", "van", "n", 4, "lka", api_name="/export")


def test_export_box_transfer_check_and_onnx_download(client: Client) -> None:
    check = client.predict(23, "neck", "gate", "n", 4, api_name="/transfer")
    assert "Detect: [15, 18, 21] → [17, 21, 25]" in check and "100.0 %" in check
    onnx_file, note = client.predict(23, "sppf", "gate", api_name="/onnx")
    assert Path(onnx_file).suffix == ".onnx" and Path(onnx_file).stat().st_size > 1_000_000
    assert "yolov8n-lska23-sppf-s0" in note and "max abs difference" in note and "within" in note


def test_only_the_apps_own_files_are_served(app_url: str, fake_zoo: Path) -> None:
    with urllib.request.urlopen(f"{app_url}gradio_api/file={EXAMPLE}", timeout=10) as response:
        assert response.status == 200  # the example images are the one folder on the allow list
    for path in (fake_zoo / "manifest.json", Path("/etc/passwd"), Path(__file__)):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{app_url}gradio_api/file={path}", timeout=10)
        assert caught.value.code in (403, 404), path


def _raw_call(app_url: str, api: str, data: list) -> str:
    """Gradio's two-step REST call, as a script without gradio_client sends it: the event stream's text."""
    request = urllib.request.Request(
        f"{app_url}gradio_api/call/{api}",
        data=json.dumps({"data": data}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        event = json.load(reply)["event_id"]
    with urllib.request.urlopen(f"{app_url}gradio_api/call/{api}/{event}", timeout=120) as reply:
        return reply.read().decode()


def test_erf_files_that_are_not_files_get_the_apps_own_message(client: Client) -> None:
    """Issue 21, item 12: a non-file ``files`` value got Gradio's generic "upstream Gradio app has raised"."""
    for files in ("hello", "x" * 100_000, 5, {"path": "a.png"}):
        with pytest.raises(AppError, match=r"Images .*: expected a list of uploaded files, not ") as caught:
            client.predict(files, 23, "sppf", "gate", "zoo", 1, "insertion point", api_name="/erf")
        assert "upstream Gradio app" not in str(caught.value) and len(str(caught.value)) < 200  # no echo


def test_a_path_never_uploaded_gets_the_apps_own_message(app_url: str, fake_zoo: Path) -> None:
    """Issue 21, item 12: a raw API call naming a server file that was never uploaded got ``{"error": null}``."""
    secret = {"path": str(fake_zoo / "manifest.json"), "meta": {"_type": "gradio.FileData"}}
    calls = {
        "erf": [[secret], 23, "sppf", "gate", "zoo", 1, "insertion point", None, "lska"],
        "compare": [secret, 23, "sppf", "gate", "zoo", 0.25, 0.7, "lska"],
        "attention": [secret, 23, "sppf", "gate", "zoo", "eigen", "lska"],
    }
    for api, data in calls.items():
        stream = _raw_call(app_url, api, data)
        assert "event: error" in stream and '"error": null' not in stream, api
        assert "manifest.json was not uploaded to this server: upload it first" in stream, api
        assert str(fake_zoo) not in stream and "weights" not in stream, api  # no server path


def test_too_few_inputs_are_counted_not_echoed(app_url: str) -> None:
    stream = _raw_call(app_url, "erf", ["x" * 100_000, 23])
    assert "this endpoint takes 9 inputs and the request sent 2" in stream and "xxxx" not in stream
