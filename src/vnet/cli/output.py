"""What a command prints: JSON or the human form, counts in words, and the
progress of a long change."""
import json


def emit(args, data, human):
    """``data`` as JSON with --json, else what ``human()`` prints."""
    if args.json:
        print(json.dumps(data, indent=1, default=str))
    else:
        human()


def count(n, what):
    """'1 change', 'N changes'."""
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def with_progress(progress, work):
    """``work()``, then the Progress ``progress()`` gives (if any) finished;
    a write it lost (a reader gone, a full disk) is said once the work is done."""
    try:
        result = work()
    finally:
        if progress() is not None:
            progress().finish()
    if progress() is not None and progress().lost:
        raise progress().lost
    return result
