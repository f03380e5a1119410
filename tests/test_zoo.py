"""Optimizer Zoo and Gallery: validation and caps, the tuning protocol against a brute-force loop, the stored table
against fresh runs, and both pages (AppTest)."""
import json
import math
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from optviz.core import external as ext
from optviz.core.engine import run
from optviz.core.specs import ConfigError
from optviz.lessons import zoo

ROOT = Path(__file__).resolve().parents[1]
BASE = {"problem": {"surface": "himmelblau", "start": [-0.3, -0.9]}, "steps": 40}
SMALL = {"low": 1e-3, "high": 1.0, "per_decade": 1, "objective": "tail"}


def _zoo(names, base=BASE, tune=SMALL) -> zoo.Zoo:
    return zoo.parse_zoo({"base": base, "optimizers": list(names), "tune": tune})


# -- validation --------------------------------------------------------------------------------------

def test_a_zoo_is_validated_and_capped():
    z = _zoo(["SGD", "Adam", "SGD", "pytorch_optimizer.lion"])
    assert z.names == ("SGD", "Adam", "pytorch_optimizer.Lion")       # duplicates dropped, names canonical
    with pytest.raises(ConfigError, match="not 'Custom'"):
        _zoo(["SGD", "Custom"])
    with pytest.raises(ConfigError, match="unknown optimizer 'Nope'") as e:
        _zoo(["SGD", "Nope"])
    assert e.value.field == "optimizers[1]"
    with pytest.raises(ConfigError, match="pytorch-optimizer has no optimizer"):
        _zoo(["pytorch_optimizer.Adamm"])
    with pytest.raises(ConfigError, match="unavailable on a 2-D point"):
        _zoo([next(ext.PREFIX + n for n in ext._classes() if ext.probe(n).unavailable)])
    with pytest.raises(ConfigError, match=f"1 to {zoo.MAX_ZOO}"):
        _zoo([])
    with pytest.raises(ConfigError, match=f"1 to {zoo.MAX_ZOO}"):
        _zoo(zoo.catalogue()[: zoo.MAX_ZOO + 1])
    with pytest.raises(ConfigError, match="list of optimizer names"):
        zoo.parse_zoo({"base": BASE, "optimizers": "SGD"})
    with pytest.raises(ConfigError, match="objective"):
        _zoo(["SGD"], tune={**SMALL, "objective": "best"})
    with pytest.raises(ConfigError, match="lr grid"):
        _zoo(["SGD"], tune={**SMALL, "low": 1.0, "high": 0.1})
    with pytest.raises(ConfigError, match="gradient evaluations"):     # the cost cap holds a request to a bounded amount of work
        _zoo(zoo.catalogue()[:20], base={**BASE, "steps": 5000}, tune={**SMALL, "per_decade": 6})
    # an LBFGS step may evaluate the function max_iter (20) times: it counts so
    few = {**BASE, "steps": 1000}
    assert _zoo(["LBFGS"], base=few).tuning_steps() == 20 * _zoo(["SGD"], base=few).tuning_steps() == 20 * 4 * 1000
    assert len(_zoo(zoo.catalogue(external=False), base={**BASE, "steps": 200}, tune=zoo.Grid().to_dict()).names) == 15


def test_labels_say_which_package_only_when_names_collide():
    assert zoo.labels(["Adam", "pytorch_optimizer.Lion"]) == ["Adam", "Lion"]
    assert zoo.labels(["Adam", "pytorch_optimizer.Adam"]) == ["Adam", "Adam (pytorch-optimizer)"]


def test_the_protocol_is_stated_with_its_numbers():
    z = _zoo(["SGD", "pytorch_optimizer.Prodigy"])
    text = z.describe()
    assert "40 steps" in text and "4 log-spaced learning rates from 0.001 to 1" in text and "never clipped" in text
    assert f"× {zoo.MULTIPLIER_SCALE:g} (0.1 to 100)" in text
    assert z.protocol("SGD").lrs == (0.001, 0.01, 0.1, 1.0)
    assert z.protocol("pytorch_optimizer.Prodigy").lrs == (0.1, 1.0, 10.0, 100.0)   # lr multiplies an adapted step


# -- tuning equals a brute-force loop over plain runs -------------------------------------------------

@pytest.mark.parametrize("name", ["SGD", "Adam", "pytorch_optimizer.Lion", "pytorch_optimizer.Prodigy"])
def test_tuned_lr_is_the_best_of_plain_runs(name):
    z = _zoo([name])
    t = zoo.tune(z, name, use_table=False)
    lrs = (0.1, 1.0, 10.0, 100.0) if name.endswith("Prodigy") else (0.001, 0.01, 0.1, 1.0)
    scores = []
    for lr in lrs:
        tr = run({**BASE, "optimizer": {"name": name, "options": {"lr": lr}}})
        tail = tr.losses[-4:]        # 10 % of 40 steps
        ok = tr.diverged_at is None and tr.steps == 40
        scores.append(float(np.mean(tail)) if ok else math.inf)
    assert t.tuning.lrs == lrs and list(t.tuning.scores) == scores
    best = min(range(len(lrs)), key=lambda i: (scores[i], lrs[i]))
    assert t.lr == lrs[best] and t.tuning.best_score == scores[best]
    # the drawn run is the run at the tuned lr, every other option at the class's default
    cfg = zoo.tuned_config(z, t)
    defaults = cfg.optimizer_spec.defaults()
    assert cfg.optimizer.options["lr"] == t.lr
    assert {k: v for k, v in cfg.optimizer.options.items() if k != "lr"} == {k: v for k, v in defaults.items() if k != "lr"}


def test_an_entry_whose_every_lr_diverges_is_drawn_at_its_default():
    z = _zoo(["SGD"], base={"problem": {"surface": "rosenbrock"}, "steps": 40}, tune={**SMALL, "low": 10.0, "high": 100.0})
    t = zoo.tune(z, "SGD", use_table=False)
    assert t.tuning.best_lr is None and t.lr == 1e-3 and "every lr diverged" in t.lr_note()


# -- the gallery's stored table ----------------------------------------------------------------------

def _stored():
    data = json.loads(zoo.TABLE.read_text())
    assert data["versions"] == zoo.versions(), "the table was written with other packages: run python -m optviz.lessons.zoo"
    return data


def test_the_table_covers_every_entry_of_every_gallery_surface():
    data = _stored()
    assert data["protocol"] == zoo.Grid().to_dict() and data["steps"] == zoo.DEFAULT_STEPS
    zoos = [zoo.gallery_zoo(s) for s in zoo.GALLERY_SURFACES]
    missing = [(gz.base.problem.surface, n) for gz in zoos for n in gz.names if gz.protocol(n) is not None and zoo.from_table(gz, n) is None]
    assert not missing, f"rerun python -m optviz.lessons.zoo: {missing[:5]}"
    assert len(data["entries"]) == sum(zoo.gallery_zoo(s).protocol(n) is not None
                                       for s in zoo.GALLERY_SURFACES for n in zoo.catalogue())


def _sample() -> list[tuple[str, str]]:
    """Every torch.optim entry but LBFGS (its 16 runs take ~45 s) and every 12th pytorch-optimizer one, on both surfaces."""
    names = [n for n in zoo.catalogue(external=False) if n != "LBFGS"] + [s.name for s in ext.available()][::12]
    return [(s, n) for s in zoo.GALLERY_SURFACES for n in names]


@pytest.mark.parametrize(("surface", "name"), _sample())
def test_stored_tunings_equal_fresh_runs(surface, name):
    gz = zoo.gallery_zoo(surface, (name,))
    stored = zoo.from_table(gz, name)
    fresh = zoo.tune(gz, name, use_table=False).tuning
    assert stored is not None and fresh is not None
    assert stored.best_lr == fresh.best_lr
    np.testing.assert_allclose(stored.scores, fresh.scores, rtol=1e-12, atol=0)


# -- pages -------------------------------------------------------------------------------------------

def _page(name: str, **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=30)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def _qp(at: AppTest, key: str) -> str:
    v = at.query_params[key]
    return v[0] if isinstance(v, list) else v


def _clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_zoo_page_draws_each_entry_at_its_tuned_lr():
    at = _page("zoo", zoo=json.dumps(["SGD", "Adam", "pytorch_optimizer.Lion"]), cfg=json.dumps(BASE),
               tune=json.dumps(SMALL))
    _clean(at)
    z = _zoo(["SGD", "Adam", "pytorch_optimizer.Lion"])
    want = [zoo.tune(z, n) for n in z.names]
    rows = at.dataframe[0].value
    assert list(rows["optimizer"]) == ["SGD", "Adam", "Lion"]
    assert list(rows["tuned lr"]) == [f"{t.lr:.3g}" for t in want]
    assert list(rows["from"]) == ["torch.optim", "torch.optim", "pytorch-optimizer"]
    contour = json.loads(at.get("plotly_chart")[0].proto.spec)
    drawn = {t["name"]: t for t in contour["data"] if t.get("mode") == "lines+markers"}
    assert set(drawn) == {"SGD", "Adam", "Lion"}
    for t in want:      # each path is the run at its tuned lr
        tr = run(zoo.tuned_config(z, t))
        np.testing.assert_allclose(drawn[t.label]["x"], tr.positions[:, 0].astype(np.float32), rtol=1e-6)
    assert any("0.001 to 1" in m.value and "never clipped" in m.value for m in at.markdown)
    link = next(m.value for m in at.markdown if "Race these" in m.value)
    query = parse_qs(urlparse(link[link.index("(") + 1: link.rindex(")")]).query)
    assert json.loads(query["race"][0]) == [{"name": t.name, "options": {"lr": t.lr}} for t in want]


def test_zoo_page_refuses_a_bad_link_and_keeps_the_url():
    at = _page("zoo", zoo='["SGD", "Nope"]')
    _clean(at)
    assert any("could not be used" in w.value and "Nope" in w.value for w in at.warning)
    assert list(at.dataframe[0].value["optimizer"]) == zoo.labels(zoo.DEFAULT_NAMES)
    at = _page("zoo", zoo="[" * 5000)
    _clean(at)
    assert any("could not be used" in w.value for w in at.warning)


def test_zoo_page_picks_write_the_url():
    at = _page("zoo", zoo=json.dumps(["SGD", "Adam"]), cfg=json.dumps(BASE), tune=json.dumps(SMALL))
    at.multiselect(key="zoo.names.widget").select("RMSprop").run()
    _clean(at)
    assert json.loads(_qp(at, "zoo")) == ["SGD", "Adam", "RMSprop"]
    assert json.loads(_qp(at, "tune")) == SMALL
    assert list(at.dataframe[0].value["optimizer"]) == ["SGD", "Adam", "RMSprop"]


def test_gallery_cards_are_tuned_runs_with_png_names_and_a_pager_at_its_bounds():
    at = _page("gallery", source="torch")
    _clean(at)
    charts = at.get("plotly_chart")
    assert len(charts) == 12
    gz = zoo.gallery_zoo("rosenbrock")
    first = json.loads(charts[0].proto.spec)
    title = first["layout"]["title"]["text"]
    name = next(n for n in zoo.catalogue(external=False) if f"<b>{n}</b>" in title)
    t = zoo.tune(gz, name)
    assert f"lr {t.lr:.3g}" in title and f"<b>{name}</b> · torch.optim" in title
    tr = run(zoo.tuned_config(gz, t))
    path = next(d for d in first["data"] if d.get("mode") == "lines+markers")
    np.testing.assert_allclose(path["y"], tr.positions[:, 1].astype(np.float32), rtol=1e-6)
    assert json.loads(charts[0].proto.config)["toImageButtonOptions"]["filename"] == f"optviz-rosenbrock-{name}"
    # best score first (the table's order)
    scores = [zoo.from_table(gz, n).best_score for n in zoo.catalogue(external=False)]
    assert t.tuning.best_score == min(scores)
    assert at.button(key="gallery.prev.top").disabled and not at.button(key="gallery.next.top").disabled
    at.button(key="gallery.next.top").click().run()
    _clean(at)
    assert len(at.get("plotly_chart")) == len(zoo.catalogue(external=False)) - 12
    assert at.button(key="gallery.next.top").disabled and _qp(at, "page") == "2"
    at.button(key="gallery.prev.bottom").click().run()
    assert len(at.get("plotly_chart")) == 12 and "page" not in at.query_params


def test_gallery_filter_and_rastrigin():
    at = _page("gallery", find="lion", surface="rastrigin")
    _clean(at)
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert titles and all("lion" in t.lower() for t in titles)
    assert json.loads(at.get("plotly_chart")[0].proto.config)["toImageButtonOptions"]["filename"].startswith("optviz-rastrigin-")
    at.text_input(key="gallery.find").input("no such optimizer").run()
    _clean(at)
    assert not at.get("plotly_chart") and any("no such optimizer" in i.value for i in at.info)


def test_cli_prints_each_tuning(tmp_path, capsys):
    from optviz.__main__ import main

    spec = tmp_path / "zoo.json"
    spec.write_text(json.dumps({"base": BASE, "optimizers": ["SGD", "pytorch_optimizer.Lion"], "tune": SMALL}))
    assert main(["zoo", str(spec)]) == 0
    out = json.loads(capsys.readouterr().out)
    z = _zoo(["SGD", "pytorch_optimizer.Lion"])
    for row, n in zip(out, z.names, strict=True):
        t = zoo.tune(z, n, use_table=False)
        tr = run(zoo.tuned_config(z, t))
        assert row["optimizer"] == n and row["tuned_lr"] == t.lr and row["lrs"] == list(t.tuning.lrs)
        assert row["final_loss"] == float(tr.losses[-1]) and row["final_point"] == tr.positions[-1].tolist()
    spec.write_text(json.dumps({"base": BASE, "optimizers": ["SGD", "Nope"]}))
    assert main(["zoo", str(spec)]) == 2
    assert "optimizers[1]" in capsys.readouterr().err


def test_race_page_opens_its_racers_in_the_zoo():
    race = _page("race")
    _clean(race)
    text = next(c.value for c in race.caption if "in the Zoo" in c.value)
    query = parse_qs(urlparse(text[text.index("](") + 2: text.index(")", text.index("]("))]).query)
    names = json.loads(query["zoo"][0])
    assert names == ["SGD", "Adam", "RMSprop"]
    at = _page("zoo", **{k: v[0] for k, v in query.items()})
    _clean(at)
    assert list(at.dataframe[0].value["optimizer"]) == names
    z = zoo.parse_zoo({"base": json.loads(query["cfg"][0]), "optimizers": names})
    assert z.base.steps == 300 and all("300 steps" in m.value for m in at.markdown if "Protocol" in m.value)


def test_a_costly_zoo_waits_for_the_button_and_draws_defaults_meanwhile():
    names = ["SGD", "Adam", "RMSprop", "Adagrad", "Adamax"]
    base = {**BASE, "steps": 600}
    z = zoo.parse_zoo({"base": base, "optimizers": names})
    assert zoo.live_cost(z) > zoo.AUTO_TUNE
    at = _page("zoo", zoo=json.dumps(names), cfg=json.dumps(base))
    _clean(at)
    assert any("Tune them now" in b.label for b in at.button) and any("gradient evaluations" in i.value for i in at.info)
    rows = at.dataframe[0].value
    defaults = [z.config(n).optimizer.options["lr"] for n in names]
    assert list(rows["tuned lr"]) == [f"{lr:.3g}" for lr in defaults]
    assert all(note.startswith("not tuned yet") for note in rows["note"])
    assert not any("Race these" in m.value for m in at.markdown)
    at.button(key="zoo.tune.run").click().run()
    _clean(at)
    want = [zoo.tune(z, n) for n in names]
    assert list(at.dataframe[0].value["tuned lr"]) == [f"{t.lr:.3g}" for t in want]
    assert any("Race these" in m.value for m in at.markdown)


def test_zoo_pick_buttons_and_steps_at_the_sliders_ends():
    at = _page("zoo")
    at.button(key="zoo.pick.torch").click().run()
    _clean(at)
    assert list(at.dataframe[0].value["optimizer"]) == zoo.catalogue(external=False)
    at.button(key="zoo.pick.default").click().run()
    _clean(at)
    assert list(at.dataframe[0].value["optimizer"]) == zoo.labels(zoo.DEFAULT_NAMES)
    for steps in (1, 1000):
        at = _page("zoo", cfg=json.dumps({"steps": steps}), zoo=json.dumps(["SGD", "Adam"]))
        _clean(at)
        assert set(at.dataframe[0].value["ended"]) <= {f"{steps} steps"} | {f"diverged at step {t}" for t in range(1, steps + 1)}


def test_colours_are_torchs_own_and_distinct_for_the_others():
    from optviz.core.optimizers import get_optimizer
    from optviz.figures.zoo import entry_colours

    names = ["SGD", "Adam", "pytorch_optimizer.Lion", "pytorch_optimizer.Adan", "SGD"] + zoo.catalogue()[15:35]
    colours = entry_colours(names)
    assert colours["SGD"] == get_optimizer("SGD").colour and colours["Adam"] == get_optimizer("Adam").colour
    assert len(set(map(str.lower, colours.values()))) == len(colours) == len(set(names))
    # the default zoo's six stand apart (its first four pytorch-optimizer colours used to repeat SGD's blue and Adam's red)
    import math

    from optviz.figures.zoo import APART, _rgb
    default = list(entry_colours(list(zoo.DEFAULT_NAMES)).values())
    assert min(math.dist(_rgb(a), _rgb(b)) for i, a in enumerate(default) for b in default[i + 1:]) >= APART, default
    # the Race gives two pytorch-optimizer racers two colours (they used to share the catalogue's grey)
    race = {"base": {"problem": {"surface": "rosenbrock"}, "steps": 30},
            "entries": [{"name": "pytorch_optimizer.Lion", "options": {"lr": 0.01}}, {"name": "pytorch_optimizer.Adan", "options": {"lr": 0.01}},
                        {"name": "SGD", "options": {"lr": 0.001}}]}
    at = _page("race", race=json.dumps(race["entries"]), cfg=json.dumps(race["base"]))
    _clean(at)
    drawn = {t["name"]: t["line"]["color"] for t in json.loads(at.get("plotly_chart")[0].proto.spec)["data"] if t.get("mode") == "lines+markers"}
    assert drawn["SGD"] == get_optimizer("SGD").colour and len(set(drawn.values())) == 3, drawn


def test_gallery_colour_key_says_what_each_surface_is_coloured_by():
    from optviz.core.surfaces import SURFACES

    for surface in zoo.GALLERY_SURFACES:
        at = _page("gallery", surface=surface)
        _clean(at)
        key = next(c.value for c in at.caption if c.value.startswith("Colour:"))
        bar = json.loads(at.get("plotly_chart")[0].proto.spec)["data"]
        drawn = next(d for d in bar if d.get("marker", {}).get("colorbar"))["marker"]["colorbar"]["title"]["text"]
        assert key.startswith(f"Colour: {drawn} of {SURFACES[surface].label}")
        assert ("log₁₀" in key) == SURFACES[surface].log_contours
