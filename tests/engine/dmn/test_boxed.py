"""Boxed expressions, business knowledge models, decision services, imports and item definitions (DMN 1.5)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lxml import etree

from engine.dmn.compiler import compile_model
from engine.dmn.evaluate import evaluate
from engine.dmn.expressions import BoxedContext
from engine.dmn.model import DecisionModel
from engine.dmn.reader import read_dmn
from tests.engine.dmn.samples import dmn, models, problems, run


def lit(text: str, eid: str = "", type_ref: str = "") -> str:
    ident = f' id="{eid}"' if eid else ""
    typed = f' typeRef="{type_ref}"' if type_ref else ""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<literalExpression{ident}{typed}><text>{escaped}</text></literalExpression>"


def entry(name: str | None, value: str, type_ref: str = "") -> str:
    typed = f' typeRef="{type_ref}"' if type_ref else ""
    var = f'<variable name="{name}"{typed}/>' if name is not None else ""
    return f"<contextEntry>{var}{value}</contextEntry>"


def decision(did: str, body: str, type_ref: str = "", extra: str = "", name: str = "") -> str:
    typed = f' typeRef="{type_ref}"' if type_ref else ""
    name = name or did
    return f'<decision id="{did}" name="{name}"><variable name="{name}"{typed}/>{extra}{body}</decision>\n'


def knows(*ids: str) -> str:
    return "".join(f'<knowledgeRequirement><requiredKnowledge href="#{i}"/></knowledgeRequirement>' for i in ids)


def needs(*ids: str) -> str:
    return "".join(f'<informationRequirement><requiredDecision href="#{i}"/></informationRequirement>' for i in ids)


def needs_input(*ids: str) -> str:
    return "".join(f'<informationRequirement><requiredInput href="#{i}"/></informationRequirement>' for i in ids)


def bkm(bid: str, params: list[str], body: str, extra: str = "") -> str:
    formal = "".join(f'<formalParameter name="{p}"/>' for p in params)
    return (
        f'<businessKnowledgeModel id="{bid}" name="{bid}"><variable name="{bid}"/>{extra}'
        f"<encapsulatedLogic>{formal}{body}</encapsulatedLogic></businessKnowledgeModel>\n"
    )


ANN, BOB = '"Ann"', '"Bob"'
FEE_TABLE = (
    '<decisionTable id="fee_table" hitPolicy="FIRST"><input id="fi"><inputExpression><text>amount</text>'
    '</inputExpression></input><output id="fo" name="fee"/>'
    '<rule id="fr1"><inputEntry><text>&lt; 100</text></inputEntry><outputEntry><text>5</text></outputEntry></rule>'
    '<rule id="fr2"><inputEntry><text>-</text></inputEntry><outputEntry><text>amount * 0.1</text></outputEntry></rule>'
    "</decisionTable>"
)


def test_a_context_with_a_final_result_nested_lists_relations_and_functions():
    context = (
        '<context id="ctx">'
        + entry("rate", lit("0.5"))
        + entry("double", '<functionDefinition><formalParameter name="x"/>' + lit("x * 2") + "</functionDefinition>")
        + entry("items", "<list>" + lit("1") + lit("rate") + "<list>" + lit("double(3)") + "</list></list>")
        + entry(
            "people",
            '<relation><column name="name"/><column name="age"/>'
            + f"<row>{lit(ANN)}{lit('30')}</row><row>{lit(BOB)}{lit('double(20)')}</row></relation>",
        )
        + entry("inner", "<context>" + entry("a", lit("rate + 1")) + entry(None, lit("a * 10")) + "</context>")
        + entry(None, lit("{items: items, oldest: max(people.age), inner: inner}"))
        + "</context>"
    )
    result = run(dmn(decision("d", context)))
    assert result.value == {
        "items": [Decimal(1), Decimal("0.5"), [Decimal(6)]],
        "oldest": Decimal(40),
        "inner": Decimal(15),
    }
    assert result.outputs == {"d": {"items": [1, 0.5, [6]], "oldest": 40, "inner": 15}}
    assert result.trace[0].kind == "context"


def test_a_context_without_a_result_entry_is_the_context_itself():
    result = run(dmn(decision("d", "<context>" + entry("a", lit("1")) + entry("b", lit("a + 1")) + "</context>")))
    assert result.outputs == {"d": {"a": 1, "b": 2}}


def test_bkms_are_invoked_by_boxed_invocations_and_from_feel():
    text = dmn(
        bkm("Fee", ["amount"], FEE_TABLE),
        bkm("Twice fee", ["amount"], lit("Fee(amount) * 2"), knows("Fee")),
        decision(
            "boxed",
            "<invocation><literalExpression><text>Fee</text></literalExpression>"
            '<binding><parameter name="amount"/>' + lit("250") + "</binding></invocation>",
            extra=knows("Fee"),
        ),
        decision("feel", lit("[Fee(50), Twice fee(1000), Fee(amount: 20)]"), extra=knows("Fee", "Twice fee")),
    )
    assert run(text, "boxed").value == Decimal(25)
    assert run(text, "feel").value == [Decimal(5), Decimal(200), Decimal(5)]


def test_an_invocation_binding_an_unknown_parameter_gives_null_with_a_warning():
    text = dmn(
        bkm("Fee", ["amount"], FEE_TABLE),
        decision(
            "d",
            "<invocation><literalExpression><text>Fee</text></literalExpression>"
            '<binding><parameter name="price"/>' + lit("250") + "</binding></invocation>",
            extra=knows("Fee"),
        ),
    )
    result = run(text, "d")
    assert result.value is None
    assert "'Fee' has no parameter 'price'; the invocation gave null" in result.trace[-1].warnings


def test_conditional_filter_and_iterators():
    conditional = "<conditional><if>" + lit("x > 10") + "</if><then>" + lit('"big"') + "</then><else>"
    conditional += lit('"small"') + "</else></conditional>"
    filtered = "<filter><in>" + lit("[1, 5, 12, 20]") + "</in><match>" + lit("item > 4") + "</match></filter>"
    loop = '<for iteratorVariable="n"><in>' + lit("[1, 2, 3]") + "</in><return>" + lit("n * n") + "</return></for>"
    some = '<some iteratorVariable="n"><in>' + lit("[1, 2, 3]") + "</in><satisfies>" + lit("n > 2")
    some += "</satisfies></some>"
    every = '<every iteratorVariable="n"><in>' + lit("[1, 2, 3]") + "</in><satisfies>" + lit("n > 2")
    every += "</satisfies></every>"
    text = dmn(
        '<inputData id="x_in" name="x"><variable name="x" typeRef="number"/></inputData>',
        decision("cond", conditional, extra=needs_input("x_in")),
        decision("filt", filtered),
        decision("loop", loop),
        decision("some", some),
        decision("every", every),
    )
    assert run(text, "cond", x=11).value == "big"
    assert run(text, "cond", x=None).value == "small"
    assert run(text, "filt").value == [Decimal(5), Decimal(12), Decimal(20)]
    assert run(text, "loop").value == [Decimal(1), Decimal(4), Decimal(9)]
    assert (run(text, "some").value, run(text, "every").value) == (True, False)


def test_boxed_expressions_that_get_no_boolean_give_null():
    cond = "<conditional><if>" + lit('"abc"') + "</if><then>" + lit("1") + "</then><else>" + lit("2")
    cond += "</else></conditional>"
    filtered = "<filter><in>" + lit("[1, 2]") + "</in><match>" + lit('"yes"') + "</match></filter>"
    some = '<some iteratorVariable="n"><in>' + lit("[1]") + "</in><satisfies>" + lit("n") + "</satisfies></some>"
    text = dmn(decision("cond", cond), decision("filt", filtered), decision("some", some))
    for did in ("cond", "filt", "some"):
        result = run(text, did)
        assert result.value is None
        assert any("not a boolean" in w for w in result.trace[-1].warnings), did


def test_boxed_expressions_nest_to_any_depth():
    body = lit("1")
    for depth in range(12):
        body = "<context>" + entry(f"level{depth}", body) + entry(None, lit(f"level{depth} + 1")) + "</context>"
    assert run(dmn(decision("deep", body))).value == Decimal(13)


def test_decision_services_from_feel_and_as_a_model_of_their_own():
    text = dmn(
        '<inputData id="name_in" name="name"><variable name="name" typeRef="string"/></inputData>',
        decision("greeting", lit('"Hello " + name'), extra=needs_input("name_in")),
        decision("shout", lit("upper case(greeting)"), extra=needs("greeting")),
        '<decisionService id="svc" name="Greeter"><variable name="Greeter"/>'
        '<outputDecision href="#shout"/><outputDecision href="#greeting"/><inputData href="#name_in"/>'
        "</decisionService>",
        decision("use", lit('Greeter("Ann").shout'), extra=knows("svc")),
    )
    found = models(text)
    assert set(found) == {"greeting", "shout", "use", "svc"}
    result = evaluate(compile_model(found["use"]), {})
    assert result.value == "HELLO ANN"
    service = evaluate(compile_model(found["svc"]), {"name": "Bob"})
    assert service.outputs == {"shout": "HELLO BOB", "greeting": "Hello Bob"}
    assert found["svc"].top.logic.kind == "service"


def test_a_service_with_an_input_decision_takes_it_as_a_parameter():
    text = dmn(
        decision("base", lit("1")),
        decision("plus", lit("base + 10"), extra=needs("base")),
        '<decisionService id="svc" name="Add"><variable name="Add"/>'
        '<outputDecision href="#plus"/><inputDecision href="#base"/></decisionService>',
        decision("use", lit("Add(5)"), extra=knows("svc")),
    )
    found = models(text)
    assert evaluate(compile_model(found["use"]), {}).value == Decimal(15)
    assert evaluate(compile_model(found["svc"]), {"base": 7}).outputs == {"plus": 17}


def test_item_definitions_convert_inputs_and_check_types():
    text = dmn(
        '<itemDefinition name="tPerson"><itemComponent name="name"><typeRef>string</typeRef></itemComponent>'
        '<itemComponent name="born"><typeRef>date</typeRef></itemComponent></itemDefinition>',
        '<itemDefinition name="tDates" isCollection="true"><typeRef>date</typeRef></itemDefinition>',
        '<itemDefinition name="tSize"><typeRef>string</typeRef><allowedValues><text>"S", "M", "L"</text>'
        "</allowedValues></itemDefinition>",
        '<inputData id="p" name="person"><variable name="person" typeRef="tPerson"/></inputData>',
        '<inputData id="ds" name="dates"><variable name="dates" typeRef="tDates"/></inputData>',
        '<inputData id="sz" name="size"><variable name="size" typeRef="tSize"/></inputData>',
        decision("age", lit("person.born.year"), extra=needs_input("p")),
        decision("latest", lit("max(dates)"), extra=needs_input("ds")),
        decision("size_of", lit("size"), extra=needs_input("sz")),
        decision("wrong", lit('"not a number"'), type_ref="number"),
        decision("single", lit('["one"]'), type_ref="string"),
    )
    found = models(text)

    def value(did: str, **inputs: object) -> object:
        return evaluate(compile_model(found[did]), inputs).value

    assert value("age", person={"name": "Ann", "born": "1990-04-01"}) == Decimal(1990)
    assert value("latest", dates=["2026-01-01", "2026-03-01"]) == date(2026, 3, 1)
    assert value("latest", dates="2026-01-01") == date(2026, 1, 1)  # an item for a collection: a singleton list
    assert value("size_of", size="M") == "M"
    assert value("single") == "one"  # a singleton list for a non-collection type: its item
    wrong = evaluate(compile_model(found["wrong"]), {})
    assert wrong.value is None
    assert (
        "decision 'wrong': a string does not conform to type 'number'; it was taken as null" in wrong.trace[0].warnings
    )
    too_big = evaluate(compile_model(found["size_of"]), {"size": "XL"})
    assert too_big.value is None and "does not conform to type 'tSize'" in too_big.trace[0].warnings[0]
    not_a_date = evaluate(compile_model(found["age"]), {"person": {"name": "Ann", "born": "yesterday"}})
    assert not_a_date.value is None


def test_bkm_parameters_are_typed():
    text = dmn(
        '<businessKnowledgeModel id="inc" name="inc"><variable name="inc"/><encapsulatedLogic>'
        '<formalParameter name="n" typeRef="number"/>' + lit("n + 1") + "</encapsulatedLogic></businessKnowledgeModel>",
        decision("d", lit('[inc(1), inc("x")]'), extra=knows("inc")),
    )
    assert run(text, "d").value == [Decimal(2), None]


IMPORTED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" '
    'id="lib" name="lib" namespace="https://example.com/lib">'
    '<itemDefinition name="tPerson"><itemComponent name="name"><typeRef>string</typeRef></itemComponent>'
    "</itemDefinition>"
    '<businessKnowledgeModel id="hello" name="Say Hello"><variable name="Say Hello"/><encapsulatedLogic>'
    '<formalParameter name="p" typeRef="tPerson"/>' + lit('"Hello " + p.name + suffix()') + "</encapsulatedLogic>"
    '<knowledgeRequirement><requiredKnowledge href="#suffix"/></knowledgeRequirement></businessKnowledgeModel>'
    '<businessKnowledgeModel id="suffix" name="suffix"><variable name="suffix"/><encapsulatedLogic>'
    + lit('"!"')
    + "</encapsulatedLogic></businessKnowledgeModel></definitions>"
)


def importing(namespace: str = "https://example.com/lib") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" '
        'id="main" name="main" namespace="https://example.com/main">\n'
        f'<import namespace="{namespace}" name="lib" importType="https://www.omg.org/spec/DMN/20191111/MODEL/"/>\n'
        '<inputData id="who" name="who"><variable name="who" typeRef="lib.tPerson"/></inputData>'
        '<decision id="greet" name="greet"><variable name="greet" typeRef="string"/>'
        '<informationRequirement><requiredInput href="#who"/></informationRequirement>'
        '<knowledgeRequirement><requiredKnowledge href="https://example.com/lib#hello"/></knowledgeRequirement>'
        + lit("lib.Say Hello(who)")
        + "</decision></definitions>"
    )


def test_imports_between_files_of_a_deployment():
    files = {"lib.dmn": etree.fromstring(IMPORTED.encode()), "main.dmn": etree.fromstring(importing().encode())}
    result = read_dmn("main.dmn", files["main.dmn"], None, files)
    assert result.problems == []
    (model,) = result.models
    assert [b.prefix for b in model.bkms] == ["lib", "lib"]
    assert {i.name for i in model.item_definitions} == {"lib.tPerson"}
    assert evaluate(compile_model(model), {"who": {"name": "Ann"}}).value == "Hello Ann!"
    restored = DecisionModel.from_dict(model.to_dict())
    assert restored == model
    assert evaluate(compile_model(restored), {"who": {"name": "Bob"}}).value == "Hello Bob!"


def test_a_missing_import_names_file_element_and_line():
    root = etree.fromstring(importing("https://example.com/nowhere").encode())
    found = read_dmn("main.dmn", root, None, {"main.dmn": root})
    first = found.problems[0]
    assert (first.file, first.line, first.code) == ("main.dmn", 3, "missing_import")
    assert "import 'lib' (namespace 'https://example.com/nowhere')" in first.message
    assert "no DMN file of this deployment has this namespace" in first.message


def test_stored_models_round_trip_and_old_models_keep_their_hash():
    text = dmn(
        bkm("Fee", ["amount"], FEE_TABLE),
        decision("d", "<context>" + entry("x", lit("Fee(200)")) + entry(None, lit("x")) + "</context>", "number"),
    )
    model = models(text)["d"]
    assert isinstance(model.top.logic, BoxedContext)
    assert DecisionModel.from_dict(model.to_dict()) == model
    plain = models(dmn(decision("p", lit("1"))))["p"].to_dict()
    assert not {"bkms", "services", "item_definitions"} & set(plain)
    assert not {"required_knowledge", "result_type", "prefix"} & set(plain["decisions"][0])


def test_boxed_expression_problems_name_the_element():
    missing_then = decision(
        "c", '<conditional id="cnd"><if>' + lit("true") + "</if><else>" + lit("1") + "</else></conditional>"
    )
    found = problems(dmn(missing_then))
    assert (found[0].element_id, found[0].message) == ("cnd", "conditional 'then' has no expression")
    bad_cell = decision("c", "<context>" + entry("a", lit("1 +", eid="cell_a")) + "</context>")
    found = problems(dmn(bad_cell))
    assert found[0].element_id == "cell_a" and "decision 'c', c, entry 'a'" in found[0].message


def test_decisions_without_logic_are_null_and_without_an_id_are_keyed_by_name():
    text = dmn(
        '<decision id="human" name="human call"><variable name="human call"/></decision>',
        '<decision name="named_only"><variable name="named_only"/>'
        '<informationRequirement><requiredDecision href="#human"/></informationRequirement>'
        + lit('if human call = null then "pending" else human call')
        + "</decision>",
    )
    found = models(text)
    assert set(found) == {"human", "named_only"}
    result = evaluate(compile_model(found["named_only"]), {})
    assert result.value == "pending"
    assert result.trace[0].warnings == ("decision 'human call' has no decision logic; its value is null",)


def test_files_importing_each_other_are_a_problem_not_a_loop():
    def file(own: str, other: str) -> bytes:
        return (
            '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="x" name="x" '
            f'namespace="https://example.com/{own}"><import namespace="https://example.com/{other}" name="{other}" '
            'importType="https://www.omg.org/spec/DMN/20191111/MODEL/"/>'
            f'<decision id="d_{own}" name="d_{own}">{lit("1")}</decision></definitions>'
        ).encode()

    files = {"a.dmn": etree.fromstring(file("a", "b")), "b.dmn": etree.fromstring(file("b", "a"))}
    found = read_dmn("a.dmn", files["a.dmn"], None, files)
    assert [p.code for p in found.problems] == ["missing_import"]
    assert "the imported file 'b.dmn' has problems" in found.problems[0].message
    assert "cycle" in found.problems[0].message


def test_a_file_imported_through_two_paths_is_one_set_of_elements():
    """TCK 0089: C imports B and B2, each of which imports A; A's input data is given once."""
    from pathlib import Path

    folder = Path(__file__).parent / "tck" / "compliance-level-3" / "0089-nested-inputdata-imports"
    files = {p.name: etree.fromstring(p.read_bytes()) for p in folder.glob("*.dmn")}
    main = "0089-nested-inputdata-imports.dmn"
    found = read_dmn(main, files[main], None, files)
    assert found.problems == []
    (model,) = found.models
    assert model.aliases == (("Model B2.modelA", "Model B.modelA"),)
    compiled = compile_model(DecisionModel.from_dict(model.to_dict()))
    result = evaluate(compiled, {"Model B": {"modelA": {"Person name": "Ann"}}})
    expected = "B: Evaluating Say Hello to: Hello, Ann; B2: Evaluating Say Hello to: Hello, Ann"
    assert result.value == expected


def test_results_must_have_every_component_and_services_their_output_type():
    text = dmn(
        '<itemDefinition name="tPair"><itemComponent name="a"><typeRef>number</typeRef></itemComponent>'
        '<itemComponent name="b"><typeRef>number</typeRef></itemComponent></itemDefinition>',
        '<itemDefinition name="tText"><functionItem outputTypeRef="string"/></itemDefinition>',
        decision("half", lit("{a: 1}"), type_ref="tPair"),
        decision("whole", lit("{a: 1, b: 2, c: 3}"), type_ref="tPair"),
        decision("number", lit("1000")),
        '<decisionService id="svc" name="svc"><variable name="svc" typeRef="tText"/>'
        '<outputDecision href="#number"/></decisionService>',
    )
    found = models(text)
    assert evaluate(compile_model(found["half"]), {}).value is None
    assert evaluate(compile_model(found["whole"]), {}).value == {"a": 1, "b": 2, "c": 3}
    service = evaluate(compile_model(found["svc"]), {})
    assert service.value is None
    assert "decision service 'svc', result: a number does not conform to type 'string'" in service.trace[-1].warnings[0]


def test_instance_of_an_item_definition():
    text = dmn(
        '<itemDefinition name="tNumbers" isCollection="true"><typeRef>number</typeRef></itemDefinition>',
        '<itemDefinition name="tByte"><typeRef>number</typeRef><allowedValues><text>[0..255]</text>'
        "</allowedValues></itemDefinition>",
        decision(
            "d",
            lit("[[1, 2] instance of tNumbers, 1 instance of tNumbers, 256 instance of tByte, null instance of tByte]"),
        ),
    )
    assert run(text, "d").value == [True, False, True, False]  # instance of ignores allowed values (DMN 1.5)


def test_instance_of_a_generic_type_of_item_definitions():
    text = dmn(
        '<itemDefinition name="tPair"><itemComponent name="a"><typeRef>string</typeRef></itemComponent>'
        '<itemComponent name="b"><typeRef>string</typeRef></itemComponent></itemDefinition>',
        decision(
            "d",
            lit(
                '[[{a: "x", b: "y"}] instance of list<tPair>, [{a: "x"}] instance of list<tPair>,'
                ' {p: {a: "x", b: "y"}} instance of context<p: tPair>, [1] instance of list<number>]'
            ),
        ),
    )
    assert run(text, "d").value == [True, False, True, True]
