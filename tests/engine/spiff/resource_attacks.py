"""The resource-attack corpus: expressions and scripts that try to outrun the time limit or the memory budget.

Each entry is (id, mode, source, outcome). `outcome` is what the sandbox must answer, and always within the
time limit plus its margin: "timeout" (ScriptTimeout), "memory" (SandboxError naming the memory budget),
"limit" (another SandboxError: a guard refused the operation before running it, or the value was too large to
pass back) or "error" (an ordinary Python
error the code raises, such as RecursionError: bounded, and an incident like any other). Many of these
were long single C calls that held the GIL (and so every thread of the server) before the isolated path:
quadratic builtins, shared references printed or compared, encode/translate/format/join growth.
`re` is not reachable (no imports, no modules), so there is no regex backtracking entry beyond the refusal.
"""

from __future__ import annotations

SHARED = "[[0]*1000]*30000"  # 30 M items reachable through 30,001 lists: cheap to build, huge to walk

ATTACKS: list[tuple[str, str, str, str]] = [
    # quadratic or long C builtins
    ("sum-of-lists", "eval", "len(sum([[0]*1000 for i in range(4000)], [])) > 0", "timeout"),
    ("sorted-shared", "eval", "sorted([[0]*10000]*1000000)[0][0]", "timeout"),
    ("max-shared", "eval", "max([[0]*10000]*1000000)[0]", "timeout"),
    ("compare-shared", "eval", "[[0]*10000]*1000000 == [[0]*10000]*1000000", "timeout"),
    ("hash-shared", "eval", "len({tuple([tuple(range(10000))]*1000000): 1})", "timeout"),
    ("in-shared", "eval", "[0]*10000 + [1] in [[0]*10001]*1000000", "timeout"),
    ("sorted-key", "eval", "sorted(range(10**7), key=lambda x: -x)[0]", "memory"),
    # shared references converted to text
    ("str-shared", "eval", f"str({SHARED})", "timeout"),
    ("repr-shared", "eval", f"repr({SHARED})", "timeout"),
    ("ascii-shared", "eval", "ascii([['x']*1000]*30000)", "timeout"),
    ("fstring-shared", "eval", f"f'{{{SHARED}}}'", "timeout"),
    ("percent-shared", "eval", f"'%s' % ({SHARED},)", "timeout"),
    ("print-shared", "exec", f"print({SHARED})\nout = printed", "timeout"),
    ("script-str-shared", "exec", f"x = {SHARED}\ny = len(str(x))", "timeout"),
    # encode / translate / format / join / repeat growth
    ("encode-unicode-escape", "eval", "('\\U0010ffff'*10**7).encode('unicode_escape')", "limit"),
    ("translate-list-table", "eval", "('a'*20000).translate(['x'*10000]*200)", "limit"),
    ("encode-utf32-many", "eval", "len([('\\U0010ffff'*10**7).encode('utf-32') for i in range(10)])", "memory"),
    ("hex-many", "eval", "len([(b'\\xff'*10**7).hex() for i in range(100)])", "memory"),
    ("translate-over-budget", "eval", "len(('a'*40000).translate(['x'*10000]*200))", "memory"),
    ("split-many", "eval", "len([('abc'*3*10**6).split('a') for i in range(3)])", "memory"),
    ("join-growth", "eval", "len(' '.join(['x'*1000]*10000))", "limit"),
    ("percent-star-width", "eval", "len('%*d' % (10**9, 1))", "limit"),
    ("format-spec-width", "eval", "len(f'{1:>999999999}')", "limit"),
    ("expandtabs-growth", "eval", "len(('\\t'*10**6).expandtabs(10**6))", "limit"),
    ("repeat-concat", "eval", "len('x'*10**7 + 'y'*10**7)", "limit"),
    ("doubling-loop", "exec", "s = 'x'\nwhile True:\n    s = s + s", "limit"),
    ("repeat-format-many", "eval", "len(('%s' * 10**6) % tuple(range(10**6)) * 1000)", "timeout"),
    # memory
    ("append-forever", "exec", "x = []\nwhile True:\n    x.append('x' * 100000)", "memory"),
    ("big-lists", "exec", "a = [0]*10**7\nb = [0]*10**7\nc = [0]*10**7\nd = [0]*10**7", "memory"),
    ("many-ranges", "eval", "len([list(range(10**7)) for i in range(10)])", "memory"),
    ("big-set", "eval", "len(set(range(10**7)) | set(range(10**7, 2 * 10**7)))", "memory"),
    ("big-dict", "eval", "len(dict.fromkeys(range(10**7)))", "memory"),
    # deep recursion
    ("recursion", "exec", "def f(n):\n    return f(n + 1)\nf(0)", "error"),
    ("exponential-recursion", "exec", "def f(n):\n    return 0 if n > 40 else f(n + 1) + f(n + 1)\nf(0)", "timeout"),
    ("lambda-recursion", "eval", "(lambda f: f(f))(lambda f: f(f))", "error"),
    ("deep-nesting-str", "exec", "x = []\nfor i in range(10**4):\n    x = [x]\ny = str(x)", "error"),
    # huge ints and int <-> str conversions
    ("power", "eval", "10**(10**8)", "limit"),
    ("shift", "eval", "1 << 10**9", "limit"),
    ("modpow", "eval", "pow(3, 10**6, 10**5000)", "limit"),
    ("int-product-loop", "exec", "x = 3\nwhile True:\n    x = x * x", "limit"),
    ("int-to-str-loop", "eval", "len([str(10**4299) for i in range(10**7)])", "timeout"),
    ("str-to-int-loop", "eval", "sum(int('9'*4299) % 7 for i in range(10**7))", "timeout"),
    ("divmod-loop", "eval", "sum(divmod(10**20000, 10**10000 + i)[1] % 2 for i in range(10**7))", "timeout"),
    # modules (re and others) are not reachable
    ("regex-import", "eval", "__import__('re').match('(a+)+$', 'a'*40 + 'b')", "limit"),
]
