"""A recursive-descent parser for FEEL expressions and unary tests (DMN 1.5, chapter 10).

Precedence, lowest first: `if`/`for`/`some`/`every`/`function`, `or`, `and`, comparison (`= != < <= > >=`,
`between`, `in`; not chainable), `instance of`, `+ -`, `* /`, `**`, unary `-`, then path `.x`, filter `[c]`
and invocation `(args)`. Multi-word names ("date and time", "Applicant Age") are matched greedily.
"""

from __future__ import annotations

from decimal import Decimal

from engine.dmn.feel import nodes as n
from engine.dmn.feel.functions.builtins import BUILTIN_NAMES
from engine.dmn.feel.lexer import EOF, NAME, NUM, STR, Token, TokenCursor
from engine.dmn.feel.names import KEYWORDS, PROPERTIES, TYPES, NameTable, name_table

COMPARE_OPS = ("=", "!=", "<", "<=", ">", ">=")
NAME_SYMBOLS = (".", "/", "-", "+", "*")  # may join the words of a context key
MAX_DEPTH = 50


class Parser(TokenCursor):
    """Parses one FEEL text; `names` are the multi-word names it may meet."""

    def __init__(self, source: str, names: NameTable, allow_input: bool = False) -> None:
        super().__init__(source)
        self.names = names
        self.allow_input = allow_input
        self.local = NameTable(())
        self.bracket_stop = -1
        self.depth = 0
        self.input_refs = 0

    # ------------------------------------------------------------ entry points

    def whole_expression(self) -> n.Node:
        """The text as one expression; raises FeelSyntaxError."""
        node = self.expression()
        self.expect_end()
        return node

    def whole_unary_tests(self) -> n.Node:
        """The text as an input entry: `-`, `not(...)` or positive unary tests; raises FeelSyntaxError."""
        if self.peek().kind == EOF or (self.peek().is_op("-") and self.peek(1).kind == EOF):
            return n.AnyTest(self.peek().start)
        if self.peek().is_word("not") and self.peek(1).is_op("("):
            start = self.advance().start
            self.advance()
            tests = self.test_list(")")
            self.expect_op(")")
            self.expect_end()
            return n.NotTests(tests, start)
        tests = self.test_list(None)
        self.expect_end()
        return tests if len(tests.tests) > 1 else tests.tests[0]

    # ------------------------------------------------------------ unary tests

    def test_list(self, closer: str | None) -> n.Tests:
        start = self.peek().start
        tests = [self.positive_test()]
        while self.peek().is_op(","):
            self.advance()
            tests.append(self.positive_test())
        if closer is None and self.peek().kind != EOF:
            self.expect_end()
        return n.Tests(tuple(tests), start)

    def positive_test(self) -> n.Node:
        token = self.peek()
        if token.is_op("<", "<=", ">", ">=", "=", "!="):
            self.advance()
            return n.CompareTest(token.value, self.additive(), token.start)
        before = self.input_refs
        expr = self.expression()
        if isinstance(expr, n.RangeExpr):
            return n.RangeTest(expr, token.start)
        return n.ExprTest(expr, self.input_refs > before, token.start)

    def finish_range(self, low: n.Node, low_closed: bool, start: int) -> n.RangeExpr:
        """The rest of a range after its start: `..high]`, `..high)` or `..high[`."""
        self.expect_op("..")
        self.bracket_stop, outer = self.depth, self.bracket_stop
        try:
            high = self.additive()  # a range's end is a simple value: `]1..5[` ends at '['
        finally:
            self.bracket_stop = outer
        closer = self.peek()
        if not closer.is_op("]", ")", "["):
            raise self.unexpected("']' or ')' to close the range")
        self.advance()
        return n.RangeExpr(low, high, low_closed, closer.value == "]", start)

    # ------------------------------------------------------------ expressions

    def expression(self) -> n.Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expression is nested more than {MAX_DEPTH} levels deep")
        try:
            token = self.peek()
            if token.is_word("if"):
                return self.if_expression()
            if token.is_word("for"):
                return self.for_expression()
            if token.is_word("some", "every") and self.peek(1).kind == NAME and self.peek(2).is_word("in"):
                return self.quantified()
            if token.is_word("function") and self.peek(1).is_op("("):
                return self.function_definition()
            return self.disjunction()
        finally:
            self.depth -= 1

    def if_expression(self) -> n.Node:
        start = self.advance().start
        condition = self.expression()
        self.expect_word("then")
        then = self.expression()
        self.expect_word("else")
        return n.If(condition, then, self.expression(), start)

    def iterations(self, allow_range: bool) -> tuple[n.Iteration, ...]:
        items = []
        while True:
            token = self.peek()
            if token.kind != NAME or token.is_word(*KEYWORDS):
                raise self.unexpected("a variable name")
            self.advance()
            self.expect_word("in")
            source = self.disjunction()
            end = None
            if allow_range and self.peek().is_op(".."):
                self.advance()
                end = self.disjunction()
            items.append(n.Iteration(token.value, source, end))
            if not self.peek().is_op(","):
                return tuple(items)
            self.advance()

    def for_expression(self) -> n.Node:
        start = self.advance().start
        iterations = self.iterations(allow_range=True)
        self.expect_word("return")
        return n.For(iterations, self.expression(), start)

    def quantified(self) -> n.Node:
        token = self.advance()
        iterations = self.iterations(allow_range=False)
        self.expect_word("satisfies")
        return n.Quantified(token.value, iterations, self.expression(), token.start)

    def function_definition(self) -> n.Node:
        start = self.advance().start
        self.expect_op("(")
        params: list[str] = []
        types: list[n.TypeSpec | None] = []  # `function(a: number) ...`: a call whose argument is not a number is null
        while not self.peek().is_op(")"):
            token = self.peek()
            if token.kind != NAME or token.is_word(*KEYWORDS):
                raise self.unexpected("a parameter name")
            params.append(self.advance().value)
            types.append(self.type_spec() if self.peek().is_op(":") and self.advance() else None)
            if not self.peek().is_op(")"):
                self.expect_op(",")
        self.advance()
        return n.FunctionDef(tuple(params), self.expression(), start, tuple(types))

    def disjunction(self) -> n.Node:
        start = self.peek().start
        operands = [self.conjunction()]
        while self.peek().is_word("or"):
            self.advance()
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else n.Logical("or", tuple(operands), start)

    def conjunction(self) -> n.Node:
        start = self.peek().start
        operands = [self.comparison()]
        while self.peek().is_word("and"):
            self.advance()
            operands.append(self.comparison())
        return operands[0] if len(operands) == 1 else n.Logical("and", tuple(operands), start)

    def comparison(self) -> n.Node:
        left = self.instance_of()
        token = self.peek()
        if token.is_op(*COMPARE_OPS):
            self.advance()
            node: n.Node = n.Comparison(token.value, left, self.instance_of(), left.start)
        elif token.is_word("between"):
            self.advance()
            low = self.instance_of()
            self.expect_word("and")
            node = n.Between(left, low, self.instance_of(), left.start)
        elif token.is_word("in"):
            self.advance()
            node = n.In(left, self.in_tests(), left.start)
        else:
            return left
        if self.peek().is_op(*COMPARE_OPS) or self.peek().is_word("between", "in"):
            raise self.error("comparisons cannot be chained; use 'and' (or a range such as [a..b])")
        return node

    def in_tests(self) -> tuple[n.Node, ...]:
        """The right side of `in`: one positive unary test, or several in parentheses."""
        if not self.peek().is_op("("):
            return (self.positive_test(),)
        start = self.advance().start
        if self.peek().is_op("<", "<=", ">", ">=", "=", "!="):
            tests = [self.positive_test()]
        else:
            before = self.input_refs
            first = self.expression()
            if self.peek().is_op(".."):
                return (n.RangeTest(self.finish_range(first, False, start), start),)
            tests = [n.ExprTest(first, self.input_refs > before, first.start)]
        while self.peek().is_op(","):
            self.advance()
            tests.append(self.positive_test())
        self.expect_op(")")
        return tuple(tests)

    def instance_of(self) -> n.Node:
        left = self.additive()
        if self.peek().is_word("instance") and self.peek(1).is_word("of"):
            self.advance()
            self.advance()
            return n.InstanceOf(left, self.type_spec(), left.start)
        return left

    def type_spec(self) -> n.TypeSpec:
        """A type: `number`, `date and time`, `list<T>`, `range<T>`, `context<a: T, ...>`, `function<T, ...> -> T`,
        or the name of an item definition (`tPerson`, `ns.tPerson`)."""
        token = self.peek()
        generic = token.kind == NAME and not token.quoted and self.peek(1).is_op("<")
        if generic and token.value in ("list", "range"):
            self.i += 2
            inner = self.type_spec()
            self.expect_op(">")
            return (token.value, inner)
        if generic and token.value == "context":
            self.i += 2
            fields: list[tuple[str, n.TypeSpec]] = []
            while not self.peek().is_op(">"):
                key = self.context_key()
                self.expect_op(":")
                fields.append((key, self.type_spec()))
                if not self.peek().is_op(">"):
                    self.expect_op(",")
            self.advance()
            return ("context", tuple(fields))
        if generic and token.value == "function":
            self.i += 2
            params: list[n.TypeSpec] = []
            while not self.peek().is_op(">"):
                params.append(self.type_spec())
                if not self.peek().is_op(">"):
                    self.expect_op(",")
            self.advance()
            self.expect_op("-")
            self.expect_op(">")
            return ("function", tuple(params), self.type_spec())
        width = TYPES.match(self.tokens, self.i)
        if width:
            return self.span_name(width)
        if token.kind != NAME:
            raise self.unexpected("a type name (number, string, boolean, date, list<number>, context, ...)")
        parts = [self.advance().value]
        while self.peek().is_op(".") and self.peek(1).kind == NAME:
            self.advance()
            parts.append(self.advance().value)
        return ".".join(parts)

    def additive(self) -> n.Node:
        left = self.multiplicative()
        while self.peek().is_op("+", "-"):
            op = self.advance().value
            left = n.Arithmetic(op, left, self.multiplicative(), left.start)
        return left

    def multiplicative(self) -> n.Node:
        left = self.power()
        while self.peek().is_op("*", "/"):
            op = self.advance().value
            left = n.Arithmetic(op, left, self.power(), left.start)
        return left

    def power(self) -> n.Node:
        left = self.unary()
        while self.peek().is_op("**"):
            self.advance()
            left = n.Arithmetic("**", left, self.unary(), left.start)
        return left

    def unary(self) -> n.Node:
        starts = []
        while self.peek().is_op("-"):  # a loop, not recursion: `- - - 1` cannot exhaust the stack
            starts.append(self.advance().start)
        node = self.postfix()
        for start in reversed(starts):
            if isinstance(node, n.Literal) and isinstance(node.value, Decimal):
                node = n.Literal(-node.value, start)
            else:
                node = n.Negate(node, start)
        return node

    def postfix(self) -> n.Node:
        node = self.primary()
        while True:
            token = self.peek()
            if token.is_op("."):
                self.advance()
                node = n.Path(node, self.property_name(), node.start)
            elif token.is_op("[") and self.bracket_stop != self.depth:
                self.advance()
                condition = self.expression()
                self.expect_op("]")
                node = n.Filter(node, condition, node.start)
            elif token.is_op("("):
                self.advance()
                args, named = self.arguments()
                node = n.Call(node, args, named, node.start)
            else:
                return node

    def property_name(self) -> str:
        width = max(
            PROPERTIES.match(self.tokens, self.i),
            self.local.match(self.tokens, self.i),
            self.names.match(self.tokens, self.i),  # an imported element: `import name.Say Hello`
        )
        if width:
            return self.span_name(width)
        token = self.peek()
        if token.kind != NAME:
            raise self.unexpected("a name after '.'")
        return self.advance().value

    def arguments(self) -> tuple[tuple[n.Node, ...], tuple[tuple[str, n.Node], ...]]:
        args: list[n.Node] = []
        named: list[tuple[str, n.Node]] = []
        while not self.peek().is_op(")"):
            key = self.named_argument()
            if key is not None:
                named.append((key, self.expression()))
            elif named:
                raise self.error("positional arguments cannot follow named ones")
            else:
                args.append(self.expression())
            if not self.peek().is_op(")"):
                self.expect_op(",")
        self.advance()
        return tuple(args), tuple(named)

    def named_argument(self) -> str | None:
        """`start position: 2` -> "start position" (consumed), else None."""
        j = self.i
        while self.tokens[j].kind == NAME:
            j += 1
        if j == self.i or not self.tokens[j].is_op(":"):
            return None
        name = " ".join(t.value for t in self.tokens[self.i : j])
        self.i = j + 1
        return name

    # ------------------------------------------------------------ primaries

    def primary(self) -> n.Node:
        token = self.peek()
        if token.kind == NUM:
            self.advance()
            return n.Literal(Decimal(token.value), token.start)
        if token.kind == STR:
            self.advance()
            return n.Literal(token.value, token.start)
        if token.kind == NAME:
            return self.name_or_keyword()
        if token.is_op("?"):
            if not self.allow_input:
                raise self.error("'?' (the input value) is only allowed in input entries")
            self.advance()
            self.input_refs += 1
            return n.InputValue(token.start)
        if token.is_op("@"):
            self.advance()
            text = self.peek()
            if text.kind != STR:
                raise self.unexpected('a string after @, e.g. @"2026-01-01"')
            self.advance()
            return n.TemporalLiteral(text.value, token.start)
        if token.is_op("!="):  # `(!= 10)`: the unary test as a value
            self.advance()
            return n.NotEqualValue(self.additive(), token.start)
        if token.is_op("<", "<=", ">", ">=", "="):  # `< 10` as a value is the range (null..10) (DMN 1.5, 10.3.2.7)
            self.advance()
            endpoint = self.additive()
            if token.value == "=":
                return n.RangeExpr(endpoint, endpoint, True, True, token.start, point=True)
            if token.value in ("<", "<="):
                return n.RangeExpr(None, endpoint, False, token.value == "<=", token.start)
            return n.RangeExpr(endpoint, None, token.value == ">=", False, token.start)
        if token.is_op("(", "[", "]"):
            return self.bracketed(token)
        if token.is_op("{"):
            return self.context()
        raise self.unexpected("a value, name or '('")

    def bracketed(self, token: Token) -> n.Node:
        """`(expr)`, a list `[a, b]`, or a range `[a..b]`, `(a..b)`, `]a..b[`."""
        self.advance()
        if token.is_op("]"):
            return self.finish_range(self.additive(), False, token.start)
        if token.is_op("[") and self.peek().is_op("]"):
            self.advance()
            return n.ListExpr((), token.start)
        first = self.expression()
        if self.peek().is_op(".."):
            return self.finish_range(first, token.is_op("["), token.start)
        if token.is_op("("):
            self.expect_op(")")
            return first
        items = [first]
        while self.peek().is_op(","):
            self.advance()
            items.append(self.expression())
        self.expect_op("]")
        return n.ListExpr(tuple(items), token.start)

    def name_or_keyword(self) -> n.Node:
        token = self.peek()
        if not token.quoted:
            if token.value in ("true", "false"):
                self.advance()
                return n.Literal(token.value == "true", token.start)
            if token.value == "null":
                self.advance()
                return n.Literal(None, token.start)
            if token.value in ("if", "for", "function") or (
                token.value in ("some", "every") and self.peek(2).is_word("in")
            ):
                return self.expression()
        width = 0 if token.quoted else max(self.names.match(self.tokens, self.i), self.local.match(self.tokens, self.i))
        if width:
            name = self.span_name(width)
            return n.Name(name, token.start)
        if not token.quoted and token.value in KEYWORDS:
            raise self.error(f"unexpected keyword {token.value!r}")
        self.advance()
        return n.Name(token.value, token.start)

    def span_name(self, width: int) -> str:
        """The name the next `width` tokens form, as written (`Pre-bureau risk`), spaces normalized."""
        first, last = self.tokens[self.i], self.tokens[self.i + width - 1]
        self.i += width
        return " ".join(self.source[first.start : last.end].split())

    def context(self) -> n.Node:
        start = self.advance().start
        entries: list[tuple[str, n.Node]] = []
        while not self.peek().is_op("}"):
            key = self.context_key()
            self.local.add(key)
            self.expect_op(":")
            entries.append((key, self.expression()))
            if not self.peek().is_op("}"):
                self.expect_op(",")
        self.advance()
        return n.ContextExpr(tuple(entries), start)

    def context_key(self) -> str:
        token = self.peek()
        if token.kind == STR:
            self.advance()
            return token.value
        if token.kind != NAME:
            raise self.unexpected("a key (a name or a string)")
        first = last = self.advance()
        while self.peek().kind == NAME or (  # a name may hold `. / - ' + *` between its words: `foo+bar`
            self.peek().is_op(*NAME_SYMBOLS) and self.peek(1).kind == NAME
        ):
            last = self.advance()
        if first is last:
            return first.value
        return " ".join(self.source[first.start : last.end].split())


def parse_expression(source: str, names: frozenset[str] = frozenset()) -> n.Node:
    """Parse a FEEL expression; raises FeelSyntaxError naming the position."""
    return Parser(source, name_table(BUILTIN_NAMES | names)).whole_expression()


def parse_unary_tests(source: str, names: frozenset[str] = frozenset()) -> n.Node:
    """Parse an input entry (FEEL unary tests, `?` allowed); raises FeelSyntaxError."""
    return Parser(source, name_table(BUILTIN_NAMES | names), allow_input=True).whole_unary_tests()


def parse_input_expression(source: str, names: frozenset[str] = frozenset()) -> n.Node:
    """Parse an expression where `?` may appear (input entries only); raises FeelSyntaxError."""
    return Parser(source, name_table(BUILTIN_NAMES | names), allow_input=True).whole_expression()
