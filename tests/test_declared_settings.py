"""Settings declared once: the declarations, the bad values generated from them, and the
configuration reference that is generated from them.

Every declared bound and choice gets a failing value (``Interval.invalid`` / ``Options.invalid``, as
scikit-learn's ``generate_invalid_param_val`` does), which the real loaders must refuse with one
line naming the key; and every key the loaders accept must be in the generated reference."""

from __future__ import annotations

import tomllib

import pytest

from structsearch.commands._reference import cli_reference, configuration_reference, documented_keys
from structsearch.config import TRAIN_TABLES, config_from_dict
from structsearch.declare import Either, Interval, Options, Range, check_settings, settings, undeclared
from structsearch.errors import ConfigError
from structsearch.families import FAMILIES, distinct_families
from structsearch.overrides import PARAMETERS
from structsearch.prune_run import PruneConfig
from structsearch.search.genes import GENE_NAMES
from structsearch.search.space import SPACE_TABLES, builtin_spaces, space_from_dict
from structsearch.studies import StudyConfig
from structsearch.tasks import OPTION_DOCS, task_names, task_options

# ------------------------------------------------------------------------- the constraint classes


def test_an_interval_admits_what_it_says_and_its_invalid_values_fall_outside():
    closed = Interval(0, 1)
    assert 0 in closed and 1 in closed and 0.5 in closed
    assert -0.001 not in closed and 1.001 not in closed and True not in closed and "0.5" not in closed
    open_ = Interval(0, 1, low_open=True, high_open=True)
    assert 0 not in open_ and 1 not in open_ and 1e-9 in open_
    count = Interval(1, None, integer=True)
    assert 1 in count and 10**9 in count and 0 not in count and 1.0 not in count
    for interval in (closed, open_, count, Interval(0, 2**63, high_open=True, integer=True)):
        bad = interval.invalid()
        assert bad and all(value not in interval for value in bad), (interval, bad)
    assert count.describe() == "an integer ≥ 1"
    assert open_.describe() == "a number in (0, 1)"
    assert Interval(0, 2**63, high_open=True, integer=True).describe() == "an integer in [0, 2⁶³)"


def test_options_either_and_range():
    names = Options(("a", "b"))
    assert "a" in names and "c" not in names and 3 not in names
    many = Options(("a", "b"), many=True, empty=False)
    assert ["a", "b"] in many and [] not in many and ["c"] not in many and "a" not in many
    maybe = Either((None, Interval(0, None, low_open=True)))
    assert None in maybe and 2.5 in maybe and 0 not in maybe
    assert maybe.describe() == "unset or a number > 0"
    pair = Range(Interval(2, None, integer=True))
    assert [2, 5] in pair and [5, 2] not in pair and [1, 5] not in pair and [3] not in pair
    for constraint in (names, many, maybe, pair):
        assert all(value not in constraint for value in constraint.invalid()), constraint


def test_check_settings_gives_one_message_shape():
    from structsearch.search.space import BudgetConfig

    with pytest.raises(ConfigError, match=r"^budget\.max_epochs must be an integer ≥ 0, got -1$"):
        check_settings(BudgetConfig(max_epochs=-1), "budget")


# ----------------------------------------------------------------------- every key is declared


@pytest.mark.parametrize("table", [t for t in SPACE_TABLES] + [f"train:{t}" for t in TRAIN_TABLES])
def test_every_field_of_every_table_declares_its_meaning(table):
    cls = TRAIN_TABLES[table[6:]] if table.startswith("train:") else SPACE_TABLES[table]
    assert undeclared(cls) == []


def test_every_task_option_has_its_meaning():
    options = {option for name in task_names() for option in task_options(name)}
    assert sorted(options - set(OPTION_DOCS)) == []


# --------------------------------------------------- bad values generated from the declarations


def _invalid_cases(tables: dict[str, type]):
    for table, cls in tables.items():
        for declared in settings(cls):
            if declared.allowed is None or declared.name == "name" and table == "task":
                continue
            for value in declared.allowed.invalid():
                yield table, declared.name, value


def _space_data(table: str, key: str, value) -> dict:
    data = {"task": {"name": "digits"}}
    if table:
        data.setdefault(table, {})[key] = value
    else:
        data[key] = value
    return data


SPACE_CASES = list(_invalid_cases(SPACE_TABLES))
TRAIN_CASES = list(_invalid_cases(TRAIN_TABLES))


def test_the_generated_cases_cover_every_declared_constraint():
    constrained = {(t, s.name) for t, cls in SPACE_TABLES.items() for s in settings(cls) if s.allowed is not None}
    assert {(t, k) for t, k, _ in SPACE_CASES} == constrained - {("task", "name")}
    assert len(SPACE_CASES) > 80


@pytest.mark.parametrize(("table", "key", "value"), SPACE_CASES, ids=lambda v: repr(v)[:30])
def test_a_search_space_refuses_every_generated_bad_value_naming_the_key(table, key, value):
    with pytest.raises(ConfigError) as caught:
        space_from_dict(_space_data(table, key, value))
    message = str(caught.value)
    assert "\n" not in message
    assert key in message, message  # the table too, where the message is the declaration's


PRIOR_CASES = [(family.name, prior, key, value) for family in distinct_families("priors")
               for prior, entry in family.priors.items() for key, parameter in entry.parameters.items()
               for value in parameter.invalid()]


def test_every_prior_parameter_has_generated_cases():
    declared = {(p, k) for f in FAMILIES.values() for p, entry in f.priors.items() for k in entry.parameters}
    assert {(p, k) for _, p, k, _ in PRIOR_CASES} == declared and len(PRIOR_CASES) > 3 * len(declared)


@pytest.mark.parametrize(("family", "prior", "key", "value"), PRIOR_CASES, ids=lambda v: repr(v)[:30])
def test_a_search_space_refuses_every_generated_bad_prior_range_naming_the_key(family, prior, key, value):
    data = {"task": {"name": "digits"}, "model": {"kind": family}, "rewiring": {"rule": "none"},
            "genotype": {"priors": [prior], "census": "x.json", prior: {key: value}}}
    with pytest.raises(ConfigError) as caught:
        space_from_dict(data)
    message = str(caught.value)
    assert "\n" not in message
    assert f"genotype.{prior}.{key}" in message, message


PRUNE_CASES = [(key, value) for _, key, value in _invalid_cases({"prune": PruneConfig})]


@pytest.mark.parametrize(("key", "value"), PRUNE_CASES, ids=lambda v: repr(v)[:30])
def test_a_prune_request_refuses_every_generated_bad_value_naming_the_key(key, value):
    request = {"amount": 0.5} if key != "amount" else {}
    with pytest.raises(ConfigError) as caught:
        PruneConfig(**{**request, key: value}).validate()
    assert "\n" not in str(caught.value) and f"--{key.replace('_', '-')} must be" in str(caught.value)
    assert {k for k, _ in PRUNE_CASES} == {s.name for s in settings(PruneConfig)}


STUDY_CASES = [(key, value) for _, key, value in _invalid_cases({"study": StudyConfig})]


@pytest.mark.parametrize(("key", "value"), STUDY_CASES, ids=lambda v: repr(v)[:30])
def test_a_study_refuses_every_generated_bad_value_naming_the_key(key, value):
    with pytest.raises(ConfigError) as caught:
        StudyConfig(**{"trials": 2, key: value}).validate()
    assert "\n" not in str(caught.value) and f"--{key.replace('_', '-')} must be" in str(caught.value)
    assert {k for k, _ in STUDY_CASES} == {s.name for s in settings(StudyConfig)}


@pytest.mark.parametrize(("table", "key", "value"), TRAIN_CASES, ids=lambda v: repr(v)[:30])
def test_a_train_file_refuses_every_generated_bad_value_naming_the_key(table, key, value):
    data = {table: {key: value}}
    with pytest.raises(ConfigError) as caught:
        config_from_dict(data).validate()
    message = str(caught.value)
    assert "\n" not in message
    assert key in message, message


def test_an_unknown_task_is_refused_with_the_known_ones():
    with pytest.raises(ConfigError, match="unknown task 'no-such-task'.*digits"):
        space_from_dict({"task": {"name": "no-such-task"}})


# ------------------------------------------------------------ the generated configuration reference


@pytest.fixture(scope="module")
def reference() -> str:
    return configuration_reference()


def _toml_keys(data: dict, prefix: str = "") -> set[str]:
    """The dotted keys of a space file as the reference names them: tables of parts (priors,
    operators, genes, study parameters) by their part, task options by their option."""
    keys = set()
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if prefix in ("genes.", "study.params.") or not isinstance(value, dict):
            keys.add(dotted)
        else:
            keys |= _toml_keys(value, dotted + ".")
    return keys


@pytest.mark.parametrize("space", sorted(builtin_spaces()))
def test_every_key_a_built_in_space_uses_is_in_the_reference(space, reference):
    data = tomllib.loads(builtin_spaces()[space].read_text())
    missing = sorted(key for key in _toml_keys(data) if f"`{key}`" not in reference)
    assert missing == []


def test_every_key_the_loaders_accept_is_in_the_reference(reference):
    """The accepted keys, read from what the loaders themselves use (the dataclass fields that
    update_section sets, the prior parameters, the operator registries, the task options)."""
    import dataclasses

    accepted = set()
    for tables in (SPACE_TABLES, TRAIN_TABLES):
        for table, cls in tables.items():
            for field in dataclasses.fields(cls):
                if field.name in ("options", "parameters", "genes") or dataclasses.is_dataclass(field.type):
                    continue
                accepted.add(f"{table}.{field.name}" if table else field.name)
    accepted -= {f"{t}" for t in SPACE_TABLES}  # the tables themselves are sections
    accepted |= {f"genotype.{p}.{k}" for f in FAMILIES.values() for p, entry in f.priors.items()
                 for k in entry.parameters}
    accepted |= {f"evolution.mutations.{n}" for f in FAMILIES.values() for n in f.mutations}
    accepted |= {f"evolution.crossovers.{n}" for f in FAMILIES.values() for n in f.crossovers}
    accepted |= {f"evolution.steps.{n}" for f in FAMILIES.values() for n in f.steps}
    accepted |= {f"task.{o}" for name in task_names() for o in task_options(name)}
    accepted |= {f"genes.{name}" for name in GENE_NAMES}
    accepted |= {f"study.params.{name}" for name in PARAMETERS}
    missing = sorted(key for key in accepted if f"`{key}`" not in reference)
    assert missing == []
    assert accepted <= documented_keys() | set(SPACE_TABLES)


def test_the_reference_shows_declared_defaults_and_bounds(reference):
    assert "| `evolution.population` | integer | `8` | an integer ≥ 1 |" in reference
    assert "| `gate.estimation_fraction` | number | `0.5` | a number in \\[0, 1) |" in reference
    assert "`genotype.watts-strogatz.k` | integer range | `[2, 6]`" in reference


def test_the_cli_reference_has_every_command_and_option():
    from structsearch.commands import build_parser
    from structsearch.commands._reference import _subparsers

    text = cli_reference()

    def walk(parser, title):
        assert title == "structsearch" or f"# {title}\n" in text, title
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}`" in text, (title, option)
        for name, child in _subparsers(parser).items():
            walk(child, f"{title} {name}")

    walk(build_parser(), "structsearch")


def test_option_help_comes_from_the_declaration():
    from structsearch.commands import build_parser
    from structsearch.commands._reference import _subparsers

    train = _subparsers(build_parser())["train"]
    helps = {option: action.help for action in train._actions for option in action.option_strings}
    assert helps["--momentum"] == "SGD momentum (a number in [0, 1); default 0.9)"
    evolve = _subparsers(build_parser())["evolve"]
    helps = {option: action.help for action in evolve._actions for option in action.option_strings}
    assert helps["--population"].startswith("individuals kept from one generation to the next (an integer ≥ 1")
