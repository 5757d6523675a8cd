"""The examples that end each command's --help, as the AWS CLI's help ends with EXAMPLES.

Each example is a sentence saying what it does and the shell lines that do it. click
rewraps help text into paragraphs; a paragraph that starts with a `\\b` line is printed as
written, so every line of an example stays on its own line, however narrow the terminal
(`epilog`). A line ending in
` \\` continues on the next, as in a shell. tests/test_cli_basics.py checks that every
command's help ends with these lines intact and that each `trailsweep` line parses.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Example:
    what: str
    lines: tuple[str, ...]


EXAMPLES: dict[str, tuple[Example, ...]] = {
    "sweep": (
        Example(
            "Every event of the last day, every ACTIVE account of the organization, every "
            "enabled region, into a file that resumes where it stopped:",
            ("trailsweep sweep --accounts org --regions all --start-time 1d -o day.ndjson",),
        ),
        Example(
            "Continue it after Ctrl-C or a crash (the same command again does the same):",
            ("trailsweep sweep --resume day.ndjson",),
        ),
        Example(
            "The same into gzip parts of at most 64 MiB of NDJSON each, for a log shipper "
            "reading spool/*.ndjson.gz (the directory must exist):",
            (
                "trailsweep sweep --accounts org --regions all --start-time 1d \\",
                "    --output-dir spool --part-size 64MiB --compress gz",
            ),
        ),
        Example(
            "Console sign-ins without MFA in two accounts over the last week, to stdout:",
            (
                "trailsweep sweep --accounts 111122223333,444455556666 --start-time 7d \\",
                "    --lookup-attributes AttributeKey=EventName,AttributeValue=ConsoleLogin \\",
                "    --where additionalEventData.MFAUsed=No",
            ),
        ),
        Example(
            "Settings from a TOML file (flags override it), the summary also as JSON:",
            (
                "trailsweep sweep --config configs/org.toml --summary-json summary.json "
                "-o org.ndjson",
            ),
        ),
    ),
    "lookup-events": (
        Example(
            "The ten newest console sign-ins of this account and region, as "
            "`aws cloudtrail lookup-events` prints them:",
            (
                "trailsweep lookup-events --max-items 10 \\",
                "    --lookup-attributes AttributeKey=EventName,AttributeValue=ConsoleLogin",
            ),
        ),
        Example(
            "The last day as a table of names and users:",
            (
                "trailsweep lookup-events --start-time 1d --output table \\",
                "    --query 'Events[].[EventName, Username]'",
            ),
        ),
        Example(
            "Parameters from YAML: print the skeleton, edit it, pass it back:",
            (
                "trailsweep lookup-events --generate-cli-skeleton yaml-input > in.yaml",
                "trailsweep lookup-events --cli-input-yaml file://in.yaml --output yaml",
            ),
        ),
    ),
    "plan": (
        Example(
            "Which of 4 shards sweeps each account and region of the organization:",
            ("trailsweep plan --accounts org --regions all --shards 4",),
        ),
        Example(
            "The same as JSON (pairs, and the count of pairs per shard), for a script:",
            ("trailsweep plan --accounts org --regions all --shards 4 --format json",),
        ),
        Example(
            "Then each machine sweeps its shard, here shard 0 of 4 (or --shard auto/4 in a "
            "Kubernetes Indexed Job, --shard auto in an AWS Batch array job):",
            (
                "trailsweep sweep --accounts org --regions all --start-time 1d \\",
                "    --shard 0/4 -o shard-0.ndjson",
            ),
        ),
    ),
    "status": (
        Example(
            "How far an --output export got, per account and region:",
            ("trailsweep status day.ndjson",),
        ),
        Example("The same, as JSON:", ("trailsweep status day.ndjson --json",)),
    ),
    "merge": (
        Example(
            "The outputs of four shards into one file, the order and bytes one unsharded "
            "sweep writes:",
            (
                "trailsweep merge shard-0.ndjson shard-1.ndjson.gz shard-2.ndjson.zst "
                "spool-3/ -o all.ndjson",
            ),
        ),
        Example(
            "From stdin and a file, to stdout:",
            ("zcat shard-0.ndjson.gz | trailsweep merge - shard-1.ndjson | jq .EventName",),
        ),
    ),
    "emulator": (
        Example(
            "Serve on a free port; the ready line on stdout is JSON (url, keys, region, account):",
            ("trailsweep emulator",),
        ),
        Example(
            "Serve in the background and write the AWS_* variables of its management "
            "account to emu.env (mode 0600) once it listens; after the ready line, point "
            "any AWS client at it:",
            (
                "trailsweep emulator --env-file emu.env &",
                ". ./emu.env",
                "aws cloudtrail lookup-events --max-items 10",
                "trailsweep sweep --accounts org --regions all --start-time 1d",
            ),
        ),
        Example(
            "The same export lines on stdout instead of the JSON ready line:",
            ("trailsweep emulator --print-env > emu.env",),
        ),
        Example(
            "A bigger organization on a fixed port, with a slow and unreliable network:",
            ("trailsweep emulator --port 4566 --members 20 --latency-ms 80 --error-rate 0.05",),
        ),
    ),
    "demo": (
        Example("Sweep the embedded emulator, print the newest events:", ("trailsweep demo",)),
        Example(
            "The same with CloudTrailEvent kept as the API's JSON string:",
            ("trailsweep demo --raw",),
        ),
        Example(
            "From a demo config of your own (an [emulator] table plus sweep keys):",
            ("trailsweep demo --config configs/demo.toml",),
        ),
    ),
}


def epilog(command: str) -> str:
    """The Examples section of `command`'s help: a heading, then per example its sentence
    (wrapped to the terminal) and its lines (never wrapped), indented."""
    parts = ["Examples:"]
    for example in EXAMPLES[command]:
        parts.append(example.what)
        parts.append("\b\n" + "\n".join(f"{INDENT}{line}" for line in example.lines))
    return "\n\n".join(parts)


INDENT = "    "  # an example's lines, under its sentence
