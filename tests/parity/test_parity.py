"""Parity: pocosmtp sends the same bytes as Poco itself, scenario by scenario.

Each scenario (tests/parity/scenarios/*.json, or the folder named by
POCOSMTP_PARITY_SCENARIOS) is played twice against a recording peer with the
same scripted replies: once by the C++ driver linked to Poco (cpp/, built on
demand by scripts/build-cpp-tools.sh, or POCOSMTP_PARITY_DRIVER), once by
driver.py through pocosmtp. The two recordings, normalised only where Poco is
random by design (recorder.normalise), must be equal byte for byte, and so
must the outcomes (exception class, code, message, step) and step results.
The only exceptions are the deliberate deviations in deviations.json, which
must show up exactly as described there.
"""

from __future__ import annotations

import base64
import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pocosmtp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

import driver  # noqa: E402  (tests/parity/driver.py, for its text values)
import recorder  # noqa: E402  (tests/parity/recorder.py)

SCENARIO_DIR = Path(os.environ.get("POCOSMTP_PARITY_SCENARIOS", HERE / "scenarios"))
DEVIATIONS = json.loads((HERE / "deviations.json").read_text(encoding="utf-8"))["deviations"]
DRIVER_TIMEOUT = 15  # seconds for one driver run; scenarios take milliseconds
COMPARED = ("outcome", "exception", "code", "message", "step", "results")


def load_scenarios() -> dict[str, tuple[Path, dict]]:
    found: dict[str, tuple[Path, dict]] = {}
    for path in sorted(SCENARIO_DIR.glob("*.json")):
        scenario = json.loads(path.read_text(encoding="utf-8"))
        sid = scenario.setdefault("id", path.stem)
        if sid in found:
            raise ValueError(f"scenario id {sid} appears in {found[sid][0]} and {path}")
        found[sid] = (path, scenario)
    return found


SCENARIOS = load_scenarios()
DEVIATION_OF = {d["scenario"]: d for d in DEVIATIONS}


# ------------------------------------------------------------------ drivers


@pytest.fixture(scope="session")
def cpp_driver() -> str:
    """The C++ driver: POCOSMTP_PARITY_DRIVER, or cpp/ built now (a failed build fails)."""
    given = os.environ.get("POCOSMTP_PARITY_DRIVER")
    if given:
        assert os.access(given, os.X_OK), f"POCOSMTP_PARITY_DRIVER={given} is not executable"
        return given
    build = subprocess.run(
        [str(ROOT / "scripts" / "build-cpp-tools.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert build.returncode == 0, f"building cpp/ failed:\n{build.stderr[-6000:]}"
    return build.stdout.strip().splitlines()[-1]


def python_driver() -> list[str]:
    return [sys.executable, str(HERE / "driver.py")]


def python_env() -> dict[str, str]:
    # The driver must import the very pocosmtp this test session imported.
    package_root = str(Path(pocosmtp.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return env


def play(command: list[str], path: Path, scenario: dict, file_dir: Path, env=None):
    """Runs one driver against a fresh recording peer; returns (result, raw recording)."""
    with recorder.Recording(scenario["server"]) as peer:
        run = subprocess.run(
            [*command, str(path), str(peer.port), str(file_dir)],
            capture_output=True,
            text=True,
            timeout=DRIVER_TIMEOUT,
            env=env,
        )
        recording = peer.finish()
    assert run.returncode == 0, (
        f"{Path(command[-1]).name} failed (exit {run.returncode}):\n{run.stderr}"
    )
    return json.loads(run.stdout), recording


def write_files(scenario: dict, file_dir: Path) -> None:
    for name, content in scenario.get("files", {}).items():
        (file_dir / name).write_bytes(driver.octets(content))


# ------------------------------------------------------------------ comparing


def fixed_date(scenario: dict) -> bool:
    specs = list(scenario.get("messages", {}).values())
    if "message" in scenario:
        specs.append(scenario["message"])
    return all("date" in spec for spec in specs)


def wire(scenario: dict, recording: bytes) -> list[str]:
    return recorder.readable_lines(recorder.normalise(recording, fixed_date=fixed_date(scenario)))


def wire_diff(cpp: list[str], python: list[str]) -> str:
    diff = difflib.unified_diff(cpp, python, "C++ (Poco)", "Python (pocosmtp)", lineterm="", n=3)
    return "\n".join(diff)


def compared(result: dict) -> dict:
    return {key: result.get(key) for key in COMPARED}


def result_diff(cpp: dict, python: dict) -> str:
    left = json.dumps(compared(cpp), indent=1, sort_keys=True).splitlines()
    right = json.dumps(compared(python), indent=1, sort_keys=True).splitlines()
    diff = difflib.unified_diff(left, right, "C++ (Poco)", "Python (pocosmtp)", lineterm="")
    return "\n".join(diff)


def check_expectation(expect: dict, result: dict, lines: list[str], who: str) -> None:
    """The scenario's own claims about what Poco does, so a scenario cannot pass vacuously."""
    for key in ("outcome", "exception", "code", "step", "results"):
        if key in expect:
            assert result.get(key) == expect[key], (
                f"{who}: {key} is {result.get(key)!r}, the scenario expects {expect[key]!r}\n"
                f"{json.dumps(result, indent=1)}"
            )
    for line in expect.get("wire", []):
        assert line in lines, f"{who} did not send the line {line!r}; it sent:\n" + "\n".join(lines)
    for line in expect.get("wireExcludes", []):
        assert line not in lines, f"{who} sent the line {line!r}"


def check_ntlm(scenario: dict, raw: bytes, who: str) -> None:
    """The NTLM fields normalising hides must still be right for the scenario's password."""
    logins = [s for s in scenario["steps"] if s.get("method") == "AUTH_NTLM"]
    challenges = [
        base64.b64decode(reply[4:])[24:32]
        for reply in scenario["server"]
        if isinstance(reply, str) and reply.startswith("334 TlRMTVNT")
    ]
    for message in recorder.ntlm_authenticate_lines(raw):
        assert logins and challenges, f"{who} sent an NTLM answer the scenario did not ask for"
        assert recorder.ntlm_responses_valid(message, logins[0]["password"], challenges[0]), (
            f"{who}: the NTLMv2 responses do not match the password"
        )


# ------------------------------------------------------------------ the tests


def missing_names(scenario: dict) -> list[str]:
    return [name for name in scenario.get("requires", []) if not hasattr(pocosmtp, name)]


@pytest.mark.parametrize("sid", sorted(SCENARIOS))
def test_scenario(sid: str, cpp_driver: str, tmp_path: Path) -> None:
    path, scenario = SCENARIOS[sid]
    missing = missing_names(scenario)
    if missing:
        pytest.skip(f"pocosmtp does not bind {', '.join(missing)} yet")
    write_files(scenario, tmp_path)

    cpp_result, cpp_raw = play([cpp_driver], path, scenario, tmp_path)
    py_result, py_raw = play(python_driver(), path, scenario, tmp_path, env=python_env())
    cpp_wire, py_wire = wire(scenario, cpp_raw), wire(scenario, py_raw)

    check_expectation(scenario.get("expect", {"outcome": "ok"}), cpp_result, cpp_wire, "C++")
    check_ntlm(scenario, cpp_raw, "C++")
    check_ntlm(scenario, py_raw, "Python")

    deviation = DEVIATION_OF.get(sid)
    differs = set(deviation["differs"]) if deviation else set()

    if "result" in differs:
        assert compared(py_result) != compared(cpp_result), (
            f"deviation {sid!r} is listed as changing the result, but both sides agree: "
            f"{compared(py_result)}"
        )
        assert deviation is not None  # differs is empty without one
        check_expectation(deviation["python"], py_result, py_wire, "Python")
    else:
        assert compared(py_result) == compared(cpp_result), (
            f"outcomes differ:\n{result_diff(cpp_result, py_result)}"
        )

    if "wire" in differs:
        assert py_wire != cpp_wire, (
            f"deviation {sid!r} is listed as changing the wire, but both sides sent the same"
        )
        assert deviation is not None
        check_expectation(deviation.get("python", {}), py_result, py_wire, "Python")
    else:
        assert py_wire == cpp_wire, (
            f"the clients sent different bytes (after normalising):\n{wire_diff(cpp_wire, py_wire)}"
        )


def test_deviations_file_is_complete() -> None:
    """Each listed deviation names a scenario here and says what differs and why."""
    assert DEVIATIONS, "deviations.json lists nothing"
    ids = [d["scenario"] for d in DEVIATIONS]
    assert len(ids) == len(set(ids)), "a scenario is listed twice in deviations.json"
    for d in DEVIATIONS:
        if SCENARIO_DIR == HERE / "scenarios":  # a user's folder need not hold ours
            assert d["scenario"] in SCENARIOS, f"deviation names unknown scenario {d['scenario']}"
        assert d["what"].strip() and d["why"].strip(), f"{d['scenario']}: say what and why"
        assert set(d["differs"]) <= {"result", "wire"}, d["differs"]
        if d["differs"]:
            assert "python" in d, f"{d['scenario']}: say what pocosmtp does instead"


def test_scenarios_are_described() -> None:
    assert len(SCENARIOS) >= 40 or SCENARIO_DIR != HERE / "scenarios", len(SCENARIOS)
    for path, scenario in SCENARIOS.values():
        assert scenario.get("description", "").strip(), f"{path.name}: add a description"
        assert scenario.get("server"), f"{path.name}: no scripted replies"
        assert scenario.get("steps") is not None, f"{path.name}: no steps"


# ------------------------------------------------------------------ the harness itself


def test_normalise_numbers_boundaries_and_keeps_the_rest() -> None:
    a = b"--MIME_boundary_0123456789ABCDEF\r\nx\r\n--MIME_boundary_FEDCBA9876543210--\r\n"
    b = b"--MIME_boundary_AAAAAAAAAAAAAAAA\r\nx\r\n--MIME_boundary_BBBBBBBBBBBBBBBB--\r\n"
    assert recorder.normalise(a) == recorder.normalise(b)
    assert recorder.normalise(a).startswith(b"--MIME_boundary_<1>\r\n")
    # The same boundary twice is one number; a changed byte elsewhere still shows.
    c = b"--MIME_boundary_AAAAAAAAAAAAAAAA\r\ny\r\n--MIME_boundary_AAAAAAAAAAAAAAAA--\r\n"
    assert recorder.normalise(c) != recorder.normalise(a)


def test_normalise_replaces_date_only_when_asked() -> None:
    data = b"DATA\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\nSubject: x\r\n"
    other = data.replace(b"22:13:20", b"22:13:21")
    assert recorder.normalise(data) != recorder.normalise(other)
    assert recorder.normalise(data, fixed_date=False) == recorder.normalise(other, fixed_date=False)


def test_md4_matches_rfc_1320() -> None:
    assert recorder._md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"
    assert recorder._md4(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"
    digits = b"1234567890" * 8  # two blocks
    assert recorder._md4(digits).hex() == "e33b4ddc9c38f2199c3e7b164fcc0536"


def test_normalise_zeroes_only_the_random_ntlm_fields(cpp_driver: str, tmp_path: Path) -> None:
    path, scenario = SCENARIOS["auth-ntlm"]
    raw = play([cpp_driver], path, scenario, tmp_path)[1]
    [message] = recorder.ntlm_authenticate_lines(raw)
    challenge = bytes.fromhex("0123456789abcdef")
    assert recorder.ntlm_responses_valid(message, "secret", challenge)
    assert not recorder.ntlm_responses_valid(message, "secreT", challenge)
    first = wire(scenario, raw)
    second = wire(scenario, play([cpp_driver], path, scenario, tmp_path)[1])
    assert first == second
    assert any(line.startswith("<NTLM authenticate") for line in first)
    # A different user name changes the authenticate message even after zeroing.
    other = json.loads(json.dumps(scenario))
    other["steps"][0]["username"] = "PARITY\\alicf"
    other_path = tmp_path / "other.json"
    other_path.write_text(json.dumps(other), encoding="utf-8")
    third = wire(other, play([cpp_driver], other_path, other, tmp_path)[1])
    assert [line for line in third if line.startswith("<NTLM")] != [
        line for line in first if line.startswith("<NTLM")
    ]


def test_a_changed_byte_is_reported_as_a_diff(cpp_driver: str, tmp_path: Path) -> None:
    path, scenario = SCENARIOS["send-basic"]
    changed = json.loads(json.dumps(scenario))
    changed["message"]["subject"] = "Parity chekc"
    changed_path = tmp_path / "changed.json"
    changed_path.write_text(json.dumps(changed), encoding="utf-8")
    left = wire(scenario, play([cpp_driver], path, scenario, tmp_path)[1])
    right = wire(changed, play([cpp_driver], changed_path, changed, tmp_path)[1])
    diff = wire_diff(left, right)
    assert "-Subject: Parity check" in diff and "+Subject: Parity chekc" in diff
