"""Datastore patterns (compute_clusters[].datastore_regex): refused when unsafe, matched in linear time.

Two programs read a pattern. nova-compute and cinder-volume compile it with Python's `re` and call
`.match(datastore_name)` (anchored at the start, not a search); the appliance matches it, in its web
workers, with RE2, whose time is linear in the name, whatever the pattern. So a pattern is accepted when:
- RE2 and Python's re both compile it (RE2 has no look-around, back-references, atomic groups, possessive
  quantifiers or \\Z; Python has no \\pL, \\Q..\\E or \\z);
- it uses no syntax the two read differently: {,n} (Python: 0 to n times; RE2: the text "{,n}"),
  POSIX classes [[:alpha:]] (RE2: a class; Python: the characters "[:alph"), \\s \\S \\b \\B (RE2: ASCII
  only; Python: Unicode), \\W inside [...]; \\d and \\w are given to RE2 as the Unicode classes Python
  means (\\p{Nd}, [\\p{L}\\p{N}_]);
- Python's backtracking cannot take exponential time on it: no repetition of something that itself
  varies in length ((.+)+, (a|ab)*), at most MAX_VARIABLE_REPEATS variable repetitions in all.
What still differs: characters assigned in a Unicode version newer than one of the two programs', and
case folding of a few non-ASCII letters under (?i)."""

import functools
import re
import warnings

import re2

MAX_PATTERN = 256
MAX_VARIABLE_REPEATS = 4

try:  # Python 3.11+
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants
    import sre_parse

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, getattr(sre_constants, "POSSESSIVE_REPEAT", None)} - {None}
_REFUSED_ESCAPES = {
    "s": "\\s (RE2 reads it as ASCII white space, Python as any Unicode space): write the characters, e.g. [ ]",
    "S": "\\S (RE2 reads it as ASCII only, Python as Unicode): write a class, e.g. [^ ]",
    "b": "\\b (RE2 knows only ASCII word boundaries, Python Unicode ones): anchor with ^ and $ or write the characters",
    "B": "\\B (RE2 knows only ASCII word boundaries, Python Unicode ones): write the characters instead",
}
_UNICODE_CLASSES = {"d": (r"\p{Nd}", r"\p{Nd}"), "D": (r"\P{Nd}", r"\P{Nd}"),
                    "w": (r"[\p{L}\p{N}_]", r"\p{L}\p{N}_"), "W": (r"[^\p{L}\p{N}_]", None)}


class PatternRefused(ValueError):
    pass


def _options():
    options = re2.Options()
    options.log_errors = False  # the refusal is the user's answer, not a log line
    return options


def _for_re2(pattern: str) -> str:
    """The pattern in RE2's syntax with Python's meaning, or PatternRefused for syntax the two read differently."""
    out: list[str] = []
    index, in_class, class_start = 0, False, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            letter = pattern[index + 1]
            if letter in _REFUSED_ESCAPES:
                raise PatternRefused(f"uses {_REFUSED_ESCAPES[letter]}")
            if letter in _UNICODE_CLASSES:
                outside, inside = _UNICODE_CLASSES[letter]
                if in_class and inside is None:
                    raise PatternRefused("uses \\W inside [...], which RE2 cannot express with Python's meaning: "
                                         "use [^...] with the characters you want to allow")
                out.append(inside if in_class else outside)
            else:
                out.append(pattern[index:index + 2])
            index += 2
            continue
        if in_class:
            if char == "[" and pattern.startswith("[:", index):
                raise PatternRefused("uses a POSIX class like [:alpha:], which RE2 and Python read differently: "
                                     "write the range, e.g. [A-Za-z]")
            if char == "]" and index > class_start:
                in_class = False
        elif char == "[":
            in_class = True
            class_start = index + 1
            if pattern.startswith("^", class_start):
                class_start += 1
            out.append(pattern[index:class_start])
            index = class_start
            continue
        elif char == "{" and pattern.startswith("{,", index):
            raise PatternRefused("uses {,n}, which Python reads as 0 to n times and RE2 as literal text: write {0,n}")
        out.append(char)
        index += 1
    return "".join(out)


def _walk(subpattern, repeated: bool, counts: list[int]) -> None:
    for op, av in subpattern.data:
        if op in _REPEATS:
            low, high, item = av
            if low != high:
                counts[0] += 1
                if repeated:
                    raise PatternRefused("repeats something that itself varies in length, like (.+)+ or (a*b?)*: "
                                         "Python's re, which nova-compute uses, can take exponential time on it. "
                                         "Write it without the nested repetition")
            _walk(item, repeated or high > 1, counts)
        elif op is sre_constants.SUBPATTERN:
            _walk(av[-1], repeated, counts)
        elif op is sre_constants.BRANCH:
            if repeated:
                raise PatternRefused("repeats an alternative of several characters, like (ab|a)+: Python's re, which "
                                     "nova-compute uses, can take exponential time on it. Write it without the repetition")
            for branch in av[1]:
                _walk(branch, repeated, counts)


@functools.lru_cache(maxsize=512)
def _check(pattern: str) -> tuple[str, str | None]:
    """(RE2 pattern, None) or ("", why it is refused)."""
    if len(pattern) > MAX_PATTERN:
        return "", f"is too long: at most {MAX_PATTERN} characters"
    try:
        translated = _for_re2(pattern)
    except PatternRefused as exc:
        return "", str(exc)
    try:
        re2.compile(translated, _options())
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return "", (f"is refused by RE2, the linear-time engine the appliance matches datastore names with ({reason}). "
                    "RE2 has no look-ahead or look-behind, back-references, atomic groups, possessive quantifiers, \\Z, "
                    "the x flag or counts above 1000: rewrite the pattern without them")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            parsed = sre_parse.parse(pattern)
            re.compile(pattern)
    except (re.error, FutureWarning, DeprecationWarning) as exc:
        return "", f"is not a regular expression nova-compute can read (Python's re: {exc})"
    except RecursionError:
        return "", "nests too deeply"
    counts = [0]
    try:
        _walk(parsed, False, counts)
    except PatternRefused as exc:
        return "", str(exc)
    if counts[0] > MAX_VARIABLE_REPEATS:
        return "", (f"has {counts[0]} variable repetitions (*, +, ?, {{m,n}}); at most {MAX_VARIABLE_REPEATS} keep "
                    "Python's re, which nova-compute uses, fast on every datastore name. Simplify it")
    return translated, None


def pattern_problem(pattern: str) -> str | None:
    """Why a datastore pattern is refused, or None."""
    return _check(pattern)[1]


@functools.lru_cache(maxsize=512)
def compiled(pattern: str):
    """The accepted pattern as an RE2 program (PatternRefused otherwise)."""
    translated, problem = _check(pattern)
    if problem:
        raise PatternRefused(problem)
    return re2.compile(translated, _options())


def datastore_matches(pattern: str, name: str) -> bool:
    """Does nova-compute's `re.match(pattern, name)` select this datastore? Answered by RE2, in linear time."""
    return compiled(pattern).match(name) is not None


def scoped(pattern: str) -> str:
    """The pattern as a group that can be joined with others: leading global flags (?i) become (?i:...)."""
    flags = ""
    while found := re.match(r"\(\?([a-zA-Z]+)\)", pattern):
        flags += found[1]
        pattern = pattern[found.end():]
    return f"(?{flags}:{pattern})"
