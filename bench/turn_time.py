"""Benchmark one conversation turn of the running assistant, its memory, and training.

    .venv/bin/python -m bench.turn_time --report docs/performance.md

1. Trains the model once from scratch: `rasa train --force` into a temporary
   directory, with `RASA_CACHE_DIRECTORY` set to an empty temporary directory
   so that no cached component is reused.
2. Starts the real assistant with `tests.assistant.start_assistant` (SQLite in
   a temporary `VAR_DIR`, no Twilio credentials, so SMS stay `not_sent`).
3. Times requests over HTTP on 127.0.0.1, one kind after another in rounds so
   that a slow spell of the machine touches every kind alike. The first rounds
   are a warm-up and are discarded.
4. Reads the peak RSS (`VmHWM`) of the runner's processes after the last round.

See `bench/README.md` for what each kind of request measures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from bench.processes import assistant_memory
from bench.report import KindResult, RunInfo, TrainingResult, render_report
from bot.eval_report import installed_version, read_machine
from tests.assistant import (
    FINAL_OUTBOX_STATUSES,
    PROJECT_ROOT,
    SMS_WEBHOOK,
    RunningAssistant,
    start_assistant,
    stop_assistant,
)

logger = logging.getLogger(__name__)

DEFAULT_REPETITIONS = 30
DEFAULT_WARMUP = 3
DEFAULT_MAX_MINUTES = 20.0
REQUEST_TIMEOUT_SECONDS = 120
SMS_POLL_SECONDS = 0.002

TWILIO_VARIABLES = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER")

FAQ_TEXT = "what is ECM?"
# Replies to the screening questions, by the profile field the form requests.
# A field not listed here gets the reply "no".
SCREENING_ANSWERS = {
    "screening_consent": "yes",
    "plan": "Medi-Cal",
    "age": "45",
    "kaiser_assigned": "no",
    "unhoused": "yes",
    "housing_insecure": "yes",
    "chronic_condition": "yes",
    "avoidable_ed_visits_12mo": "like 7 times",
    "willing_community_supports": "yes",
}
# Numbers 555-0100 to 555-0199 are reserved for fiction in the North American
# numbering plan; several area codes give more than 100 distinct senders.
FICTIONAL_AREA_CODES = ("650", "415", "408", "510", "707")


class BenchmarkError(RuntimeError):
    """A request of the benchmark failed, so its timing would be meaningless."""


@dataclass
class Kind:
    """One kind of timed request and its samples in milliseconds."""

    name: str
    description: str
    samples_ms: list[float] = field(default_factory=list)


# A step sends one timed request (after untimed setup) and returns the elapsed
# milliseconds by kind name; one request can yield several kinds.
Step = Callable[[int], dict[str, float]]


def timed_request(request: urllib.request.Request) -> tuple[float, int, bytes]:
    """Send a request on a new connection and return (milliseconds, status, body).

    The clock runs from just before the connection opens until the whole body
    has been read.
    """
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as reply:
            body = reply.read()
            status = reply.status
    except urllib.error.HTTPError as error:
        body = error.read()
        status = error.code
    return (time.perf_counter() - started) * 1000.0, status, body


def fictional_phone(index: int) -> str:
    """Return a distinct fictional US number (+1 AAA 555-01NN) for each index."""
    area = FICTIONAL_AREA_CODES[index // 100 % len(FICTIONAL_AREA_CODES)]
    return f"+1{area}55501{index % 100:02d}"


class Workloads:
    """The kinds of request timed against one running assistant."""

    def __init__(self, assistant: RunningAssistant) -> None:
        self.assistant = assistant
        self._screening_session: str | None = None

    def kinds(self) -> list[Kind]:
        """Return the kinds, in the order the steps time them."""
        return [
            Kind(
                "baseline",
                "`GET /` of the Rasa server: the same HTTP stack, no NLU or dialogue",
            ),
            Kind(
                "greeting",
                "REST `hello` as the first message of a new session "
                "(includes `action_session_start`)",
            ),
            Kind("faq", f"REST `{FAQ_TEXT}` as the second message of a session"),
            Kind(
                "screening answer",
                "REST answer to the question the screening form requests, after "
                "consent; the form runs on over the rounds and restarts when done",
            ),
            Kind(
                "sms webhook",
                f"Twilio webhook POST of `{FAQ_TEXT}`, the second SMS of a sender, "
                "until its empty TwiML answer (what Twilio waits for)",
            ),
            Kind(
                "sms turn",
                "the same POST until the inbound row is handled and its replies "
                "are final in the outbox (`not_sent` without Twilio credentials)",
            ),
        ]

    def steps(self) -> list[Step]:
        """Return the steps; each fills one or more of `kinds()`."""
        return [
            self._baseline,
            self._greeting,
            self._faq,
            self._screening_answer,
            self._sms,
        ]

    def _baseline(self, _: int) -> dict[str, float]:
        request = urllib.request.Request(self.assistant.base_url + "/")
        elapsed_ms, status, body = timed_request(request)
        if status != 200 or b"Rasa" not in body:
            raise BenchmarkError(f"GET / returned {status}: {body[:200]!r}")
        return {"baseline": elapsed_ms}

    def _greeting(self, _: int) -> dict[str, float]:
        session = self.assistant.new_rest_session()
        return {"greeting": self._timed_rest(session, "hello")}

    def _faq(self, _: int) -> dict[str, float]:
        session = self.assistant.new_rest_session()
        self.assistant.rest(session, "hi")
        return {"faq": self._timed_rest(session, FAQ_TEXT)}

    def _screening_answer(self, _: int) -> dict[str, float]:
        for _attempt in range(50):
            session = self._screening_session
            if session is None:
                session = self.assistant.new_rest_session()
                self.assistant.rest(session, "hi")
                self.assistant.rest(session, "do i qualify")
                self._screening_session = session

            tracker = self.assistant.tracker(session.split(".")[0])
            loop = (tracker.get("active_loop") or {}).get("name")
            slot = tracker["slots"].get("requested_slot")
            if loop != "screening_form" or not slot:
                self._screening_session = None  # form finished: start again
                continue

            field_name = slot[2:] if slot.startswith("q_") else slot
            answer = SCREENING_ANSWERS.get(field_name, "no")
            if field_name == "screening_consent":
                self.assistant.rest(session, answer)
                continue
            return {"screening answer": self._timed_rest(session, answer)}
        raise BenchmarkError("the screening form never requested a question")

    def _sms(self, index: int) -> dict[str, float]:
        phone = fictional_phone(index)
        self._untimed_sms(phone, "hi")

        fields = self.assistant.sms_fields(phone, FAQ_TEXT)
        request = urllib.request.Request(
            self.assistant.base_url + SMS_WEBHOOK,
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        started = time.perf_counter()
        webhook_ms, status, body = timed_request(request)
        if status != 200:
            raise BenchmarkError(f"SMS webhook returned {status}: {body[:200]!r}")
        self._wait_for_replies(fields["MessageSid"])
        turn_ms = (time.perf_counter() - started) * 1000.0
        return {"sms webhook": webhook_ms, "sms turn": turn_ms}

    def _untimed_sms(self, phone: str, text: str) -> None:
        fields = self.assistant.sms_fields(phone, text)
        status, body = self.assistant.post_twilio(SMS_WEBHOOK, fields)
        if status != 200:
            raise BenchmarkError(f"SMS webhook returned {status}: {body[:200]!r}")
        self._wait_for_replies(fields["MessageSid"])

    def _wait_for_replies(self, sid: str) -> None:
        """Poll the database until the inbound SMS is handled and its replies final.

        NOTE: each poll is a SQLite query from this process, every
        `SMS_POLL_SECONDS`, so the end of an SMS turn is seen up to a few
        milliseconds late.
        """
        deadline = time.monotonic() + REQUEST_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            row = self.assistant.inbound_row(sid)
            if row is not None and row.status == "failed":
                raise BenchmarkError(f"the assistant failed to handle SMS {sid}")
            if row is not None and row.status == "done":
                replies = self.assistant.reply_rows(row.id)
                if not replies:
                    raise BenchmarkError(f"SMS {sid} was handled without a reply")
                if all(r.status in FINAL_OUTBOX_STATUSES for r in replies):
                    return
            time.sleep(SMS_POLL_SECONDS)
        raise BenchmarkError(
            f"SMS {sid} was not handled within {REQUEST_TIMEOUT_SECONDS} s"
        )

    def _timed_rest(self, session: str, text: str) -> float:
        request = urllib.request.Request(
            self.assistant.base_url + "/webhooks/rest/webhook",
            data=json.dumps({"sender": session, "message": text}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        elapsed_ms, status, body = timed_request(request)
        if status != 200:
            raise BenchmarkError(f"REST turn returned {status}: {body[:200]!r}")
        if not json.loads(body):
            raise BenchmarkError("REST turn returned no message")
        return elapsed_ms


def measure_turns(
    assistant: RunningAssistant,
    repetitions: int,
    warmup: int,
    max_seconds: float,
) -> tuple[list[Kind], int]:
    """Time every kind in rounds; return the kinds with samples and the rounds timed.

    Rounds stop early, after at least one timed round, when `max_seconds` have
    passed since the first round started.

    NOTE: one request is in flight at a time, so this measures the time of a
    turn, not throughput with many members talking at once.
    """
    workloads = Workloads(assistant)
    kinds = workloads.kinds()
    by_name = {kind.name: kind for kind in kinds}
    started = time.monotonic()
    timed_rounds = 0
    for index in range(warmup + repetitions):
        for step in workloads.steps():
            try:
                elapsed = step(index)
            except AssertionError as error:
                # RunningAssistant's helpers assert on the HTTP status.
                raise BenchmarkError(f"a setup request failed: {error}") from error
            if index >= warmup:
                for name, elapsed_ms in elapsed.items():
                    by_name[name].samples_ms.append(elapsed_ms)
        if index >= warmup:
            timed_rounds += 1
        if timed_rounds and time.monotonic() - started > max_seconds:
            logger.warning(
                "Stopped after %d of %d rounds: the time limit of %.0f s passed",
                timed_rounds,
                repetitions,
                max_seconds,
            )
            break
    return kinds, timed_rounds


def time_cold_training(work_dir: Path) -> TrainingResult:
    """Train the model with an empty Rasa cache; return wall time and peak RSS.

    Raises:
        BenchmarkError: when training fails; its output is in `train.log`.
    """
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "RASA_CACHE_DIRECTORY": str(work_dir / "cache"),
    }
    command = [
        sys.executable, "-m", "bot.rasa_ext.cli", "train", "--force",
        "--fixed-model-name", "bench", "--out", str(work_dir / "models"), "--quiet",
    ]  # fmt: skip
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / "train.log"
    logger.info("Training from scratch (log: %s)", log_path)
    with open(log_path, "wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        # wait4 returns the child's own resource usage, so the peak RSS is the
        # training process's and not that of other children of this process.
        _, wait_status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(wait_status)
    if process.returncode != 0:
        raise BenchmarkError(
            f"training failed with exit code {process.returncode}; see {log_path}"
        )
    # ru_maxrss is in kibibytes on Linux.
    return TrainingResult(seconds=seconds, peak_rss_kb=usage.ru_maxrss)


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages from /proc/loadavg."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _git_output(*arguments: str) -> str:
    completed = subprocess.run(
        ["git", *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return completed.stdout.strip()


def source_revision() -> str | None:
    """Return the git commit of the working tree, marked when it has changes."""
    try:
        commit = _git_output("rev-parse", "--short", "HEAD")
        changes = _git_output("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("Cannot read the git commit: %s", error)
        return None
    return f"{commit} with uncommitted changes" if changes else commit


def run_benchmark(args: argparse.Namespace) -> tuple[RunInfo, list[KindResult]]:
    """Run training (unless skipped) and the turn timings; return the results."""
    load_before = load_average()
    revision = source_revision()
    training = None
    with tempfile.TemporaryDirectory(prefix="hpsm-bench-") as temp:
        temp_dir = Path(temp)
        if not args.skip_training:
            training = time_cold_training(temp_dir / "train")

        for name in TWILIO_VARIABLES:
            os.environ.pop(name, None)
        var_dir = temp_dir / "var"
        var_dir.mkdir()
        logger.info("Starting the assistant (log: %s)", var_dir / "assistant.log")
        assistant = start_assistant(var_dir, {})
        try:
            kinds, rounds = measure_turns(
                assistant, args.repetitions, args.warmup, args.max_minutes * 60
            )
            memory = assistant_memory(assistant.process.pid)
        except (BenchmarkError, OSError):
            # The temporary directory and its log go away, so show the log now.
            print(assistant.log_text()[-4000:], file=sys.stderr)
            raise
        finally:
            code = stop_assistant(assistant)
            if code != 0:
                logger.warning("The assistant exited with code %s", code)

    info = RunInfo(
        generated=datetime.now().astimezone(),
        machine=read_machine(),
        command=args.command,
        rasa_version=installed_version("rasa"),
        revision=revision,
        repetitions=args.repetitions,
        rounds=rounds,
        warmup=args.warmup,
        load_before=load_before,
        load_after=load_average(),
        training=training,
        memory=memory,
    )
    results = [
        KindResult(kind.name, kind.description, tuple(kind.samples_ms))
        for kind in kinds
    ]
    return info, results


def _write_json(path: Path, info: RunInfo, results: list[KindResult]) -> None:
    data = {
        "info": {**asdict(info), "generated": info.generated.isoformat()},
        "kinds": [asdict(result) for result in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report, and write it with `--report`."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.turn_time",
        description="Time conversation turns of the running assistant, its memory "
        "and a cold model training.",
    )
    parser.add_argument(
        "--repetitions",
        type=int,
        default=DEFAULT_REPETITIONS,
        help="timed requests of each kind, after the warm-up",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=DEFAULT_WARMUP,
        help="untimed rounds of every kind before the timed ones",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=DEFAULT_MAX_MINUTES,
        help="stop the timed rounds early once this many minutes have passed",
    )
    parser.add_argument(
        "--skip-training", action="store_true", help="do not time a cold training"
    )
    parser.add_argument("--report", type=Path, help="Markdown file to write")
    parser.add_argument("--json", type=Path, help="JSON file for the raw samples")
    parser.add_argument(
        "--command",
        default=None,
        help="command to name in the report (default: this command line)",
    )
    args = parser.parse_args(argv)
    if args.repetitions < 1 or args.warmup < 0:
        parser.error("--repetitions must be 1 or more and --warmup 0 or more")
    if args.command is None:
        arguments = sys.argv[1:] if argv is None else argv
        args.command = " ".join([".venv/bin/python -m bench.turn_time", *arguments])

    os.environ["RASA_TELEMETRY_ENABLED"] = "false"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        info, results = run_benchmark(args)
    except (BenchmarkError, OSError, RuntimeError, TimeoutError) as error:
        print(f"error: benchmark failed: {error}", file=sys.stderr)
        return 1

    markdown = render_report(info, results)
    print(markdown)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(markdown, encoding="utf-8")
        print(f"wrote {args.report}")
    if args.json:
        _write_json(args.json, info, results)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
