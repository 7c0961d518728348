# Chain-of-Code's LMulator driver (promptlab; Li et al. 2023, §3): runs the
# model's program statement by statement with Python, and hands the model
# only what Python cannot run, keeping the program state.
#
# - A call to a function the program neither defines nor imports (a
#   "semantic" helper such as is_fruit("apple")) returns the model's answer.
# - A top-level statement that raises is not retried: the model says which
#   variables it sets, as a dict, and the run goes on from there.
#
# Answers come from ANSWERS (the model's earlier ones, by key). A question
# not answered yet is printed after MARK and the driver exits with
# ASK_STATUS; the runner asks the model and runs the driver again from the
# start with one more answer (the program is deterministic, so it reaches
# the same point with the same state). PROGRAM and ANSWERS are filled in by
# the runner, base64 so no text of the model's can end the literal.
import ast
import base64
import builtins
import json
import os
import sys

PROGRAM = base64.b64decode("@PROGRAM@").decode("utf-8")
ANSWERS = json.loads(base64.b64decode("@ANSWERS@").decode("utf-8"))
MARK = "\x1eLMULATOR "
ASK_STATUS = 97
FILE = "<program>"
LONGEST_VALUE = 200


def state_of(env):
    """The program's variables as reprs (modules, functions and classes left out)."""
    shown = {}
    for name, value in env.items():
        if name.startswith("__") or callable(value) or type(value) is type(sys):
            continue
        text = repr(value)
        shown[name] = text if len(text) <= LONGEST_VALUE else text[:LONGEST_VALUE] + "..."
    return shown


def ask(key, **request):
    if key in ANSWERS:
        return ANSWERS[key]
    sys.stdout.flush()
    sys.stdout.write("\n" + MARK + json.dumps(dict(key=key, **request)) + "\n")
    sys.stdout.flush()
    # Not SystemExit: the program's own `except` clauses must not catch it.
    os._exit(ASK_STATUS)


def value(text):
    """The model's answer as a Python value: the whole text, its first line,
    or its first word, whichever is a literal first; else the text itself."""
    text = text.strip()
    first_line = text.splitlines()[0].strip() if text else ""
    first_word = first_line.split(" ")[0].rstrip(".,;:") if first_line else ""
    for candidate in (text, first_line, first_word):
        try:
            return ast.literal_eval(candidate)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    return first_line


def line_of(frame):
    while frame is not None and frame.f_code.co_filename != FILE:
        frame = frame.f_back
    return frame.f_lineno if frame is not None else 0


def helper(name, env, lines):
    def call(*args, **kwargs):
        shown = [repr(a) for a in args] + ["%s=%r" % kv for kv in kwargs.items()]
        key = "%s(%s)" % (name, ", ".join(shown))
        number = line_of(sys._getframe(1))
        line = lines[number - 1].strip() if 0 < number <= len(lines) else ""
        return value(ask(key, kind="call", call=key, line=line, state=state_of(env)))

    call.__name__ = name
    return call


def undefined_calls(tree):
    """Names called but never bound by the program (nor built in)."""
    bound, called = set(dir(builtins)), set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called.add(node.func.id)
    return called - bound


def main():
    tree = ast.parse(PROGRAM, FILE)
    lines = PROGRAM.splitlines()
    env = {"__name__": "__main__", "__builtins__": builtins}
    for name in sorted(undefined_calls(tree)):
        env[name] = helper(name, env, lines)
    for statement in tree.body:
        code = compile(ast.Module(body=[statement], type_ignores=[]), FILE, "exec")
        try:
            exec(code, env)
        except Exception as error:
            source = ast.get_source_segment(PROGRAM, statement) or lines[statement.lineno - 1]
            key = "line %d: %s" % (statement.lineno, source)
            answer = value(
                ask(
                    key,
                    kind="line",
                    line=source,
                    error="%s: %s" % (type(error).__name__, error),
                    state=state_of(env),
                )
            )
            if isinstance(answer, dict):
                env.update((k, v) for k, v in answer.items() if isinstance(k, str) and k.isidentifier())


main()
