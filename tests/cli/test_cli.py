#!/usr/bin/python3
"""End-to-end tests of the memloc command: .npy files written by NumPy (16/32/64-bit,
big-endian, Fortran order, per-batch files), the command's JSON and CSV compared with a
NumPy reference of the same formulas, and bad input of every kind answered with exit
status 2 and no output file.

Usage: test_cli.py PATH/TO/memloc   (CTest passes the built binary)
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import numpy as np

MEMLOC = None
DOCS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "cli.md")
# Set where --device cuda must work (the emulated CUDA build): then it is compared with the
# host path instead of being allowed to refuse.
DEVICE_REQUIRED = os.environ.get("MEMLOC_TEST_DEVICE_CUDA") == "1"


def run(*args, expect=0):
    result = subprocess.run([MEMLOC, *map(str, args)], capture_output=True, text=True)
    if result.returncode != expect:
        raise AssertionError(f"memloc {' '.join(map(str, args))}: exit {result.returncode}, "
                             f"expected {expect}\nstdout: {result.stdout}\nstderr: {result.stderr}")
    return result


def unitmem_reference(acts_nvus, reduce="mean", transform="none"):
    """UnitMem per unit from [samples, views, units, positions] activations (LOC Eqs. 5-8)."""
    x = acts_nvus.astype(np.float64)
    if transform == "relu":
        x = np.maximum(x, 0)
    elif transform == "abs":
        x = np.abs(x)
    mu = x.mean(axis=(1, 3))
    top = mu.max(axis=0)
    argmax = mu.argmax(axis=0)
    if reduce == "mean":
        rest = (mu.sum(axis=0) - top) / (mu.shape[0] - 1)
    else:
        rest = np.array([np.median(np.delete(mu[:, u], argmax[u])) for u in range(mu.shape[1])])
    return (top - rest) / (top + rest), argmax, top, rest


def alignment_reference(reps):
    """Mean l2 distance over all pairs of views, per sample."""
    n, v = reps.shape[:2]
    flat = reps.reshape(n, v, -1).astype(np.float64)
    total = np.zeros(n)
    pairs = 0
    for i in range(v):
        for j in range(i + 1, v):
            total += np.linalg.norm(flat[:, i] - flat[:, j], axis=1)
            pairs += 1
    return total / pairs


class CommandTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.rng = np.random.default_rng(7)

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def unitmem_json(self, *args):
        out = self.path("report.json")
        run("unitmem", *args, "--json", out)
        with open(out) as f:
            return json.load(f)

    def test_unitmem_every_encoding_and_layout_matches_numpy(self):
        acts = self.rng.uniform(-0.5, 2.0, (30, 3, 6, 10)).astype(np.float32)
        expected, argmax, _, _ = unitmem_reference(acts)
        cases = {
            "c.npy": (acts, "nvus"),
            "big.npy": (acts.astype(">f4"), "nvus"),
            "fortran.npy": (np.asfortranarray(acts), "nvus"),
            "f8.npy": (acts.astype(np.float64), "nvus"),
            "views_first.npy": (np.ascontiguousarray(acts.transpose(1, 0, 2, 3)), "vnus"),
            "token_major.npy": (np.ascontiguousarray(acts.transpose(0, 1, 3, 2)), "nvsu"),
            "hw.npy": (acts.reshape(30, 3, 6, 2, 5), "nvuhw"),
            "channels_last.npy": (np.ascontiguousarray(acts.reshape(30, 3, 6, 2, 5).transpose(0, 1, 3, 4, 2)), "nvhwu"),
        }
        for name, (array, layout) in cases.items():
            with self.subTest(name=name):
                np.save(self.path(name), array)
                report = self.unitmem_json("--acts", self.path(name), "--layout", layout)
                np.testing.assert_allclose(report["unitmem"], expected, rtol=2e-5, atol=2e-5)
                self.assertEqual(report["argmax"], argmax.tolist())
                self.assertEqual(report["samples"], 30)

    def test_unitmem_16_bit_median_relu_and_dense(self):
        acts = self.rng.uniform(-0.5, 2.0, (25, 2, 4, 8)).astype(np.float16)
        np.save(self.path("half.npy"), acts)
        expected, argmax, _, _ = unitmem_reference(acts, "median", "relu")
        report = self.unitmem_json("--acts", self.path("half.npy"), "--layout", "nvus", "--reduce", "median",
                                   "--transform", "relu")
        np.testing.assert_allclose(report["unitmem"], expected, rtol=2e-5, atol=2e-5)
        dense = self.rng.uniform(0, 1, (40, 2, 9)).astype(np.float32)
        np.save(self.path("dense.npy"), dense)
        expected, _, _, _ = unitmem_reference(dense[..., None])
        report = self.unitmem_json("--acts", self.path("dense.npy"), "--layout", "nvu")
        np.testing.assert_allclose(report["unitmem"], expected, rtol=2e-5, atol=2e-5)

    def test_classmem_with_labels_and_ids(self):
        acts = self.rng.uniform(0.0, 2.0, (36, 2, 5, 3)).astype(np.float32)
        labels = (np.arange(36) % 4).astype(np.int32)
        ids = (np.arange(36)[::-1] * 2).astype(np.int64)  # ids need not be 0..n-1 nor in order
        np.save(self.path("acts.npy"), acts)
        np.save(self.path("labels.npy"), labels)
        np.save(self.path("ids.npy"), ids)
        report = self.unitmem_json("--acts", self.path("acts.npy"), "--layout", "nvus", "--labels",
                                   self.path("labels.npy"), "--ids", self.path("ids.npy"))
        mu = acts.astype(np.float64).mean(axis=(1, 3))
        class_means = np.stack([mu[labels == c].mean(axis=0) for c in range(4)])
        top = class_means.max(axis=0)
        rest = (class_means.sum(axis=0) - top) / 3
        np.testing.assert_allclose(report["classmem"], (top - rest) / (top + rest), rtol=2e-5, atol=2e-5)
        self.assertEqual(report["max_class"], class_means.argmax(axis=0).tolist())
        self.assertEqual(report["argmax"], ids[mu.argmax(axis=0)].tolist())
        self.assertEqual(report["classes_with_samples"], 4)
        # bfloat16 activations arrive as uint16 bits and need the flag.
        bits = (acts.view(np.uint32) >> 16).astype(np.uint16)
        np.save(self.path("bf16.npy"), bits)
        run("unitmem", "--acts", self.path("bf16.npy"), "--layout", "nvus", expect=2)
        report = self.unitmem_json("--acts", self.path("bf16.npy"), "--layout", "nvus", "--bf16")
        truncated = (bits.astype(np.uint32) << 16).view(np.float32)
        expected, _, _, _ = unitmem_reference(truncated)
        np.testing.assert_allclose(report["unitmem"], expected, rtol=2e-5, atol=2e-5)

    def test_device_cuda_matches_cpu_or_is_refused_clearly(self):
        acts = self.rng.uniform(-0.5, 2.0, (24, 2, 6, 16)).astype(np.float32)
        np.save(self.path("acts.npy"), acts)
        out = self.path("gpu.json")
        result = subprocess.run([MEMLOC, "unitmem", "--acts", self.path("acts.npy"), "--layout", "nvus", "--device", "cuda",
                                 "--json", out], capture_output=True, text=True)
        if result.returncode == 2 and not DEVICE_REQUIRED:
            # No GPU here, or a build without the CUDA backend: said plainly, nothing written.
            self.assertIn("--device cuda:", result.stderr)
            self.assertFalse(os.path.exists(out))
            return
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(out) as f:
            report = json.load(f)
        expected, argmax, _, _ = unitmem_reference(acts)
        np.testing.assert_allclose(report["unitmem"], expected, rtol=2e-5, atol=2e-5)
        self.assertEqual(report["argmax"], argmax.tolist())

    def test_device_cuda_equals_cpu_on_every_path(self):
        # The device path of each subcommand against the host path of the same build: labels
        # (ClassMem), ids out of order, the median, fp16 stored as is, several chunks, and
        # LayerMem. Runs where --device cuda works (the emulated build, a GPU machine).
        if not DEVICE_REQUIRED:
            self.skipTest("--device cuda is checked where MEMLOC_TEST_DEVICE_CUDA=1")
        acts = self.rng.uniform(-0.5, 2.0, (37, 3, 5, 7)).astype(np.float32)
        np.save(self.path("acts.npy"), acts)
        np.save(self.path("half.npy"), acts.astype(np.float16))
        np.save(self.path("labels.npy"), (np.arange(37) * 7 % 26).astype(np.int64))
        np.save(self.path("ids.npy"), self.rng.permutation(37).astype(np.int64))
        unitmem_cases = [
            ("--acts", self.path("acts.npy"), "--layout", "nvus"),
            ("--acts", self.path("acts.npy"), "--layout", "nvus", "--reduce", "median", "--chunk-rows", "8"),
            ("--acts", self.path("half.npy"), "--layout", "nvus", "--transform", "relu", "--ids", self.path("ids.npy")),
            ("--acts", self.path("acts.npy"), "--layout", "nvus", "--labels", self.path("labels.npy"), "--chunk-rows", "5"),
        ]
        for case in unitmem_cases:
            with self.subTest(case=case):
                cpu = self.unitmem_json(*case, "--device", "cpu")
                cuda = self.unitmem_json(*case, "--device", "cuda")
                for key in ("unitmem", "classmem", "argmax", "max_class"):
                    if key in cpu:
                        np.testing.assert_allclose(np.array(cuda[key], dtype=float), np.array(cpu[key], dtype=float),
                                                   rtol=1e-6, atol=1e-9, err_msg=key)
        f = self.rng.normal(size=(29, 4, 3, 5)).astype(np.float32)
        g = self.rng.normal(size=(29, 4, 3, 5)).astype(np.float32)
        np.save(self.path("f.npy"), f)
        np.save(self.path("g.npy"), g)
        reports = {}
        for device in ("cpu", "cuda"):
            out = self.path(f"layers_{device}.json")
            run("layermem", "--point", "p", self.path("f.npy"), self.path("g.npy"), "--device", device, "--chunk-rows", "7",
                "--json", out)
            with open(out) as handle:
                reports[device] = json.load(handle)
        self.assertEqual(json.dumps(reports["cpu"]["points"], sort_keys=True).count("null"),
                         json.dumps(reports["cuda"]["points"], sort_keys=True).count("null"))
        np.testing.assert_allclose(
            np.array(self.numbers(reports["cuda"]["points"])), np.array(self.numbers(reports["cpu"]["points"])),
            rtol=1e-6, atol=1e-9)

    @staticmethod
    def numbers(value):
        if isinstance(value, dict):
            return [x for key in sorted(value) for x in CommandTest.numbers(value[key])]
        if isinstance(value, list):
            return [x for item in value for x in CommandTest.numbers(item)]
        return [float(value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []

    def test_per_batch_files_read_as_one_stream(self):
        acts = self.rng.uniform(-0.5, 2.0, (31, 2, 5, 4)).astype(np.float32)
        os.mkdir(self.path("batches"))
        for k, start in enumerate(range(0, 31, 8)):
            np.save(self.path(f"batches/batch_{k}.npy"), acts[start:start + 8])
        expected, argmax, _, _ = unitmem_reference(acts)
        for where in (self.path("batches"), self.path("batches/batch_*.npy")):
            with self.subTest(where=where):
                report = self.unitmem_json("--acts", where, "--layout", "nvus")
                np.testing.assert_allclose(report["unitmem"], expected, rtol=2e-5, atol=2e-5)
                self.assertEqual(report["argmax"], argmax.tolist())

    def test_layermem_json_and_csv(self):
        f1 = self.rng.normal(size=(40, 4, 3, 5)).astype(np.float32)
        g1 = self.rng.normal(size=(40, 4, 3, 5)).astype(np.float32)
        f2 = (0.5 * f1).astype(np.float32)
        for name, array in (("f1", f1), ("g1", g1), ("f2", f2)):
            np.save(self.path(name + ".npy"), array)
        out, csv = self.path("layers.json"), self.path("layers.csv")
        run("layermem", "--point", "conv1", self.path("f1.npy"), self.path("g1.npy"), "--point", "conv2",
            self.path("f2.npy"), self.path("g1.npy"), "--json", out, "--csv", csv)
        with open(out) as f:
            report = json.load(f)
        expected = []
        for f_reps in (f1, f2):
            ssl_f, ssl_g = alignment_reference(f_reps), alignment_reference(g1)
            expected.append(((ssl_g - ssl_f) / (ssl_f + ssl_g)).mean())
        got = [p["layermem"] for p in report["points"]]
        np.testing.assert_allclose(got, expected, rtol=1e-5)
        self.assertIsNone(report["points"][0]["delta_layermem"])
        self.assertAlmostEqual(report["points"][1]["delta_layermem"], expected[1] - expected[0], places=5)
        with open(csv) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "point,layermem,delta_layermem")
        self.assertTrue(lines[1].startswith("conv1,") and lines[1].endswith(",nan"))

    def test_stats_and_prune(self):
        x = self.rng.normal(size=400)
        y = x + 0.5 * self.rng.normal(size=400)
        np.save(self.path("x.npy"), x)
        np.save(self.path("y.npy"), y.astype(np.float32))
        y32 = y.astype(np.float32).astype(np.float64)
        out = self.path("stat.json")

        run("stats", "topk", "--scores", self.path("x.npy"), "--k", "5%", "--json", out)
        with open(out) as f:
            self.assertEqual(json.load(f)["indices"], np.argsort(-x, kind="stable")[:20].tolist())

        run("stats", "overlap", "--a", self.path("x.npy"), "--b", self.path("y.npy"), "--k", "40", "--json", out)
        expected = len(set(np.argsort(-x, kind="stable")[:40]) & set(np.argsort(-y32, kind="stable")[:40]))
        with open(out) as f:
            self.assertEqual(json.load(f)["count"], expected)

        run("stats", "kendall", "--x", self.path("x.npy"), "--y", self.path("x.npy"), "--json", out)
        with open(out) as f:
            self.assertEqual(json.load(f)["tau"], 1.0)

        run("stats", "ttest", "--a", self.path("x.npy"), "--b", self.path("y.npy"), "--json", out)
        pooled = ((x.var(ddof=1) * 399 + y32.var(ddof=1) * 399) / 798) * (2 / 400)
        with open(out) as f:
            report = json.load(f)
        self.assertAlmostEqual(report["statistic"], (x.mean() - y32.mean()) / np.sqrt(pooled), places=10)
        self.assertEqual(report["df"], 798)

        # Scores straight from the command's own reports.
        acts = self.rng.uniform(0, 1, (30, 2, 8, 3)).astype(np.float32)
        np.save(self.path("acts.npy"), acts)
        report = self.path("conv.json")
        run("unitmem", "--acts", self.path("acts.npy"), "--layout", "nvus", "--json", report)
        with open(report) as f:
            unitmem = json.load(f)["unitmem"]
        run("stats", "topk", "--scores", report + ":unitmem", "--k", "3", "--json", out)
        with open(out) as f:
            self.assertEqual(json.load(f)["indices"], np.argsort(-np.array(unitmem), kind="stable")[:3].tolist())
        reps = self.rng.normal(size=(30, 2, 4)).astype(np.float32)
        np.save(self.path("f.npy"), reps)
        np.save(self.path("g.npy"), (2 * reps).astype(np.float32))
        layers = self.path("layers.json")
        run("layermem", "--point", "conv1", self.path("f.npy"), self.path("g.npy"), "--json", layers)
        run("stats", "kendall", "--x", layers + ":points/conv1/sslmem", "--y", layers + ":points/0/sslmem", "--json", out)
        with open(out) as f:
            # Tied scores: τ-b divides by two square roots, as SciPy does, so 1 up to rounding.
            self.assertAlmostEqual(json.load(f)["tau"], 1.0, places=14)
        run("stats", "topk", "--scores", layers + ":points/conv9/sslmem", "--k", "3", expect=2)

        run("prune", "--layer", "conv1", self.path("x.npy"), "--layer", "conv2", self.path("y.npy"), "--amount", "10%",
            "--select", "low", "--json", out)
        with open(out) as f:
            layers = json.load(f)["layers"]
        self.assertEqual([len(layer["units"]) for layer in layers], [40, 40])
        self.assertEqual(layers[0]["units"], sorted(np.argsort(x, kind="stable")[:40].tolist()))
        self.assertEqual(sum(layers[1]["mask"]), 40)

    def test_plot_renders_figures_from_reports(self):
        acts = self.rng.uniform(0, 1, (20, 2, 4, 3)).astype(np.float32)
        reps = self.rng.normal(size=(20, 2, 6)).astype(np.float32)
        np.save(self.path("acts.npy"), acts)
        np.save(self.path("f.npy"), reps)
        np.save(self.path("g.npy"), (reps * 1.5).astype(np.float32))
        np.save(self.path("labels.npy"), np.arange(20) % 3)
        run("unitmem", "--acts", self.path("acts.npy"), "--layout", "nvus", "--labels", self.path("labels.npy"),
            "--json", self.path("conv1.json"))
        run("layermem", "--point", "conv1", self.path("f.npy"), self.path("g.npy"), "--point", "conv2",
            self.path("g.npy"), self.path("f.npy"), "--json", self.path("layers.json"))
        figures = self.path("figures")
        run("plot", self.path("conv1.json"), self.path("layers.json"), "--out", figures)
        for name in ("layermem", "unitmem_hist_conv1", "unitmem_vs_sslmem_conv1", "classmem_vs_unitmem_conv1"):
            for ext in ("png", "svg"):
                with self.subTest(figure=name, ext=ext):
                    self.assertGreater(os.path.getsize(os.path.join(figures, f"{name}.{ext}")), 1000)
        run("plot", self.path("missing.json"), "--out", figures, expect=2)

    def test_small_chunks_equal_one_pass_files_larger_than_memory_go_through_chunks(self):
        acts = self.rng.uniform(-0.5, 2.0, (53, 2, 4, 6)).astype(np.float32)
        np.save(self.path("acts.npy"), acts)
        whole = self.unitmem_json("--acts", self.path("acts.npy"), "--layout", "nvus", "--reduce", "median")
        chunked = self.unitmem_json("--acts", self.path("acts.npy"), "--layout", "nvus", "--reduce", "median",
                                    "--chunk-rows", "7")
        self.assertEqual(whole["unitmem"], chunked["unitmem"])
        self.assertEqual(whole["argmax"], chunked["argmax"])
        reps = self.rng.normal(size=(53, 3, 5)).astype(np.float32)
        np.save(self.path("f.npy"), reps)
        np.save(self.path("g.npy"), self.rng.normal(size=(53, 3, 5)).astype(np.float32))
        outs = []
        for rows in ("0", "4"):
            out = self.path(f"layers{rows}.json")
            run("layermem", "--point", "p", self.path("f.npy"), self.path("g.npy"), "--chunk-rows", rows, "--json", out)
            with open(out) as f:
                outs.append(json.load(f)["points"][0]["sslmem"])
        self.assertEqual(outs[0], outs[1])

    def test_units_to_samples_and_layer_selection(self):
        acts = self.rng.uniform(0, 1, (40, 2, 12, 3)).astype(np.float32)
        np.save(self.path("acts.npy"), acts)
        reps = self.rng.normal(size=(40, 2, 5)).astype(np.float32)
        np.save(self.path("f.npy"), reps)
        np.save(self.path("g.npy"), self.rng.normal(size=(40, 2, 5)).astype(np.float32))
        units, layers, out = self.path("units.json"), self.path("layers.json"), self.path("out.json")
        run("unitmem", "--acts", self.path("acts.npy"), "--layout", "nvus", "--json", units)
        run("layermem", "--point", "a", self.path("f.npy"), self.path("g.npy"), "--point", "b", self.path("g.npy"),
            self.path("f.npy"), "--point", "c", self.path("f.npy"), self.path("f.npy"), "--json", layers)
        run("stats", "links", "--unitmem", units + ":unitmem", "--argmax", units + ":argmax", "--scores",
            layers + ":points/c/sslmem", "--k", "25%", "--json", out)
        with open(units) as f:
            u = json.load(f)
        with open(layers) as f:
            lm = json.load(f)
        with open(out) as f:
            links = json.load(f)
        sslmem = lm["points"][2]["sslmem"]
        self.assertEqual(links["argmax_score"], [sslmem[a] for a in u["argmax"]])
        top = np.argsort(-np.array(u["unitmem"]), kind="stable")[:3]
        self.assertEqual(sorted(links["top_units"]), sorted(top.tolist()))
        self.assertEqual(sum(links["top_unit_count"]), 3)
        run("stats", "layers", "--report", layers, "--count", "2", "--json", out)
        with open(out) as f:
            chosen = json.load(f)["names"]
        values = [p["layermem"] for p in lm["points"]]
        self.assertEqual(chosen, [lm["points"][i]["name"] for i in np.argsort(-np.array(values), kind="stable")[:2]])
        run("stats", "layers", "--report", layers, "--delta", "--count", "1", "--direction", "least", "--json", out)
        run("stats", "layers", "--report", units, "--count", "1", expect=2)

    def test_every_documented_option_word_is_accepted_and_printed_back(self):
        # docs/cli.md shows each option's words as --option a|b|c; each one must parse, and
        # the report must print the very word given (one table in memloc/spellings.hpp).
        with open(DOCS) as f:
            docs = f.read()
        documented = {}
        for option, words in re.findall(r"--([a-z-]+) ([a-z0-9_-]+(?:\|[a-z0-9_-]+)+)(?![:a-zA-Z])", docs):
            documented.setdefault(option, set()).update(words.split("|"))
        acts = self.rng.uniform(0, 1, (12, 2, 3, 4)).astype(np.float32)
        np.save(self.path("acts.npy"), acts)
        reps = self.rng.normal(size=(12, 3, 4)).astype(np.float32)
        np.save(self.path("f.npy"), reps)
        np.save(self.path("g.npy"), (1.5 * reps).astype(np.float32))
        np.save(self.path("s.npy"), self.rng.normal(size=12))
        out = self.path("words.json")
        commands = {
            "reduce": ("unitmem", "--acts", self.path("acts.npy"), "--layout", "nvus"),
            "transform": ("unitmem", "--acts", self.path("acts.npy"), "--layout", "nvus"),
            "distance": ("layermem", "--point", "p", self.path("f.npy"), self.path("g.npy")),
            "pairs": ("layermem", "--point", "p", self.path("f.npy"), self.path("g.npy")),
            "normalize": ("layermem", "--point", "p", self.path("f.npy"), self.path("g.npy")),
            "direction": ("stats", "topk", "--scores", self.path("s.npy"), "--k", "3"),
            "alternative": ("stats", "ttest", "--a", self.path("s.npy"), "--b", self.path("s.npy")),
            "select": ("prune", "--layer", "l", self.path("s.npy")),
            "scope": ("prune", "--layer", "l", self.path("s.npy")),
        }
        self.assertEqual(set(commands) - set(documented), set(), "options whose words docs/cli.md no longer shows")
        for option, command in commands.items():
            for word in sorted(documented[option]):
                with self.subTest(option=option, word=word):
                    run(*command, f"--{option}", word, "--json", out)
                    with open(out) as f:
                        self.assertEqual(json.load(f)["options"][option], word)
        # Spellings kept for earlier command lines parse to the same values.
        for option, old, printed in (("pairs", "all", "all_pairs"), ("pairs", "original", "original_vs_views"),
                                     ("alternative", "two-sided", "two_sided")):
            with self.subTest(option=option, word=old):
                run(*commands[option], f"--{option}", old, "--json", out)
                with open(out) as f:
                    self.assertEqual(json.load(f)["options"][option], printed)

    def test_links_reads_argmax_ids_as_integers(self):
        # An int64 .npy of argmax ids (as NumPy's argmax writes them) is read as integers,
        # and a report's ids too; fractional or negative ids are refused.
        np.save(self.path("unitmem.npy"), np.array([0.9, 0.1, 0.5, 0.7]))
        np.save(self.path("argmax.npy"), np.array([2, 0, 1, 2], dtype=np.int64))
        np.save(self.path("scores.npy"), np.array([0.25, 0.5, 0.75]))
        out = self.path("links.json")
        run("stats", "links", "--unitmem", self.path("unitmem.npy"), "--argmax", self.path("argmax.npy"), "--scores",
            self.path("scores.npy"), "--k", "2", "--json", out)
        with open(out) as f:
            links = json.load(f)
        self.assertEqual(links["argmax_score"], [0.75, 0.25, 0.5, 0.75])
        self.assertEqual(links["top_unit_count"], [0, 0, 2])
        with open(self.path("ids.json"), "w") as f:
            json.dump({"argmax": [2, 0, 1, 2], "fraction": [2, 0.5, 1, 2], "negative": [2, -1, 1, 2]}, f)
        run("stats", "links", "--unitmem", self.path("unitmem.npy"), "--argmax", self.path("ids.json") + ":argmax",
            "--scores", self.path("scores.npy"), "--k", "2", "--json", out)
        for bad in ("fraction", "negative"):
            with self.subTest(bad=bad):
                result = run("stats", "links", "--unitmem", self.path("unitmem.npy"), "--argmax",
                             self.path("ids.json") + ":" + bad, "--scores", self.path("scores.npy"), expect=2)
                self.assertIn("--argmax", result.stderr)
        np.save(self.path("float_argmax.npy"), np.array([2.0, 0.0, 1.0, 2.0]))
        result = run("stats", "links", "--unitmem", self.path("unitmem.npy"), "--argmax", self.path("float_argmax.npy"),
                     "--scores", self.path("scores.npy"), expect=2)
        self.assertIn("must hold integers", result.stderr)

    def test_bad_input_exits_2_and_writes_nothing(self):
        acts = self.rng.uniform(0, 1, (10, 2, 3, 4)).astype(np.float32)
        np.save(self.path("ok.npy"), acts)
        np.save(self.path("ints.npy"), np.arange(10))
        with open(self.path("ok.npy"), "rb") as whole, open(self.path("truncated.npy"), "wb") as f:
            f.write(whole.read()[:100])
        out = self.path("never.json")
        bad = [
            ("unitmem", "--acts", self.path("missing.npy"), "--layout", "nvus"),
            ("unitmem", "--acts", self.path("ints.npy"), "--layout", "n"),
            ("unitmem", "--acts", self.path("truncated.npy"), "--layout", "nvus"),
            ("unitmem", "--acts", self.path("ok.npy"), "--layout", "nvu"),
            ("unitmem", "--acts", self.path("ok.npy"), "--layout", "unvs"),
            ("unitmem", "--acts", self.path("ok.npy"), "--layout", "nvus", "--reduce", "mode"),
            ("unitmem", "--acts", self.path("ok.npy"), "--layout", "nvus", "--threads", "-1"),
            ("unitmem", "--acts", self.path("ok.npy"), "--layout", "nvus", "--bogus", "1"),
            ("unitmem", "--layout", "nvus"),
            ("unitmem", "--acts", self.path("ok.npy"), "--layout", "nvus", "--labels", self.path("ok.npy")),
            ("unitmem", "--acts", self.path("ok.npy"), "--layout", "nvus", "--labels", self.path("ints.npy"),
             "--classes", "1"),
            ("unitmem", "--acts", self.path("ok.npy"), "--layout", "nvus", "--ids", self.path("missing.npy")),
            ("layermem", "--point", "a", self.path("ok.npy")),
            ("layermem", "--point", "a", self.path("ok.npy"), self.path("ok.npy"), "--subset", "top"),
            ("stats", "kendall", "--x", self.path("ok.npy"), "--y", self.path("ok.npy")),
            ("stats", "topk", "--scores", self.path("missing.npy"), "--k", "1%"),
            ("stats", "median", "--scores", self.path("ok.npy")),
            ("prune", "--layer", "conv1", self.path("ok.npy")),
            ("nonsense",),
        ]
        for args in bad:
            with self.subTest(args=args):
                result = run(*args, "--json", out, expect=2)
                self.assertIn("memloc:", result.stderr)
                self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    MEMLOC = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=1)
