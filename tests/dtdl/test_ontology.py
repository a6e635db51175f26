"""A folder of hundreds of Interfaces that extend each other across files loads whole, and
problems in it name the file they are in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from processtwin.cli import app
from processtwin.dtdl import DTDLValidationError, load
from processtwin.dtdl.synthetic import ontology, write_ontology


def test_a_folder_of_300_interfaces_loads_with_inheritance_resolved(tmp_path: Path) -> None:
    write_ontology(tmp_path, 300)
    models = load([tmp_path])
    assert len(models) == 300
    leaf = models["dtmi:synth:plant:Equipment40;1"]
    # Equipment40 -> 13 -> 4 -> 1 -> 0: inherits every ancestor's contents
    assert leaf.extends == ("dtmi:synth:plant:Equipment13;1",)
    names = set(leaf.contents)
    assert {"tag40", "tag13", "tag4", "tag1", "tag0"} <= names
    inherited = leaf.contents["pv0"]
    assert inherited.defined_in == "dtmi:synth:plant:Equipment0;1"
    assert inherited is models["dtmi:synth:plant:Equipment1;1"].contents["pv0"]  # shared


def test_extends_depth_stays_within_the_dtdl_limit() -> None:
    docs = {d["@id"]: d for d in ontology(400)}

    def depth(i: str) -> int:
        base = docs[i].get("extends")
        return 0 if base is None else 1 + depth(base)

    assert max(depth(i) for i in docs) <= 9


def test_a_dangling_reference_names_its_file_and_element(tmp_path: Path) -> None:
    files = write_ontology(tmp_path, 50)
    broken = files[17]
    doc = json.loads(broken.read_text())
    doc["extends"] = "dtmi:synth:plant:Missing;1"
    doc["contents"][5]["target"] = "dtmi:synth:plant:Gone;1"
    broken.write_text(json.dumps(doc))
    with pytest.raises(DTDLValidationError) as info:
        load([tmp_path])
    errs = info.value.errors
    assert {e.validation_id for e in errs} == {"dtmi:dtdl:parsingError:unresolvedReference"}
    assert len(errs) >= 2
    assert {e.source for e in errs} == {str(broken)}
    text = " ".join(e.message for e in errs)
    assert "Missing" in text and "Gone" in text


def test_nothing_is_returned_when_one_file_is_malformed(tmp_path: Path) -> None:
    write_ontology(tmp_path, 20)
    bad = tmp_path / "area0" / "broken.json"
    bad.write_text("{ not json")
    with pytest.raises(DTDLValidationError) as info:
        load([tmp_path])
    assert [e.source for e in info.value.errors] == [str(bad)]
    assert info.value.errors[0].validation_id == "dtmi:dtdl:parsingError:invalidJson"


def test_cli_reports_the_file_of_each_problem(tmp_path: Path) -> None:
    files = write_ontology(tmp_path, 10)
    doc = json.loads(files[3].read_text())
    doc["extends"] = "dtmi:synth:plant:Missing;1"
    files[3].write_text(json.dumps(doc))
    res = CliRunner().invoke(app, ["dtdl", "validate", str(tmp_path), "--json"])
    assert res.exit_code == 1
    problems = json.loads(res.stdout)
    assert problems and all(p["file"] == str(files[3]) for p in problems)
