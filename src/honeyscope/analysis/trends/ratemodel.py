"""The rate ratio of a step: how many times the daily rate per sensor changed at a given day.

Primary model: a negative-binomial (NB2) regression of daily counts on day-of-week dummies and a step
indicator, with ``log(active sensors)`` as offset; the dispersion is estimated by maximum likelihood
(statsmodels ``NegativeBinomial``). Daily attack counts are overdispersed (Poisson χ²/df ≈ 16), so a
Poisson model would make intervals several times too narrow. The rate ratio is ``exp(step)`` with a
Wald 95% interval and p-value.

Fallbacks, each named in ``StepEstimate.method`` and ``note``:

* the NB fit does not converge or gives no finite standard error → quasi-Poisson (Poisson GLM with the
  Pearson χ²/df scale, floored at 1): the same mean model, variance proportional to the mean;
* one side of the step has no event at all → no maximum-likelihood estimate exists (the step's
  coefficient runs to ±∞ and its Wald p-value to 1); the exact conditional test of two Poisson rates
  (events after the change given the total are binomial with the exposure share) is used on counts
  divided by the dispersion of the non-empty side, and the ratio is reported as a bound.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import statsmodels.api as sm  # type: ignore[import-untyped,unused-ignore]
from scipy import stats  # type: ignore[import-untyped,unused-ignore]
from statsmodels.discrete.discrete_model import NegativeBinomial  # type: ignore[import-untyped,unused-ignore]

from honeyscope.analysis.trends.changepoint import IntArray

FloatArray = npt.NDArray[np.float64]
Method = Literal["negative-binomial", "quasi-poisson", "exact-conditional"]

_Z95 = 1.959963984540054
#: The step coefficient is beyond any plausible change (e^30): a sign of separation, not an estimate.
_MAX_ABS_COEF = 30.0


@dataclass(frozen=True, slots=True)
class StepEstimate:
    """Rate ratio (changed ÷ baseline) with its 95% interval; ``None`` marks an unbounded value."""

    rate_ratio: float | None
    ci_low: float
    ci_high: float | None
    p: float
    method: Method
    note: str = ""


def fit_step(counts: IntArray, exposure: IntArray, weekdays: IntArray,
             changed: npt.NDArray[np.bool_]) -> StepEstimate | str:
    """Estimate the step at ``changed`` (days after the change); a string says why it could not."""
    changed_events, baseline_events = int(counts[changed].sum()), int(counts[~changed].sum())
    if changed_events == 0 and baseline_events == 0:
        return "no events on either side of the change"
    if changed_events == 0 or baseline_events == 0:
        return _exact_conditional(counts, exposure, weekdays, changed)
    design = _design(weekdays, changed)
    offset = np.log(exposure.astype(np.float64))
    estimate = _negative_binomial(counts, design, offset)
    if estimate is not None:
        return estimate
    return _quasi_poisson(counts, design, offset)


def _design(weekdays: IntArray, changed: npt.NDArray[np.bool_]) -> FloatArray:
    """Intercept, a dummy for every weekday present but the first, and the step (last column)."""
    present = sorted({int(day) for day in weekdays})
    columns = [np.ones(weekdays.size)]
    columns += [(weekdays == day).astype(np.float64) for day in present[1:]]
    columns.append(changed.astype(np.float64))
    return np.column_stack(columns)


def _negative_binomial(counts: IntArray, design: FloatArray, offset: FloatArray) -> StepEstimate | None:
    # statsmodels warns (ConvergenceWarning, overflow) on hard series; the result's own flags decide.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = NegativeBinomial(counts, design, offset=offset).fit(disp=0, maxiter=200)
        except (np.linalg.LinAlgError, ValueError, OverflowError):
            return None
        # The NB parameters end with the dispersion: the step is the one before it.
        coef, se, p = float(result.params[-2]), float(result.bse[-2]), float(result.pvalues[-2])
    if not result.mle_retvals.get("converged", False) or not _usable(coef, se, p):
        return None
    return _wald(coef, se, p, "negative-binomial")


def _quasi_poisson(counts: IntArray, design: FloatArray, offset: FloatArray) -> StepEstimate | str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = sm.GLM(counts, design, family=sm.families.Poisson(), offset=offset)
            result = model.fit(scale="X2")
            if result.scale < 1.0:
                result = model.fit(scale=1.0)
        except (np.linalg.LinAlgError, ValueError, OverflowError) as error:
            return f"neither the negative-binomial nor the quasi-Poisson model could be fitted ({error})"
        coef, se, p = float(result.params[-1]), float(result.bse[-1]), float(result.pvalues[-1])
        scale = float(result.scale)
    if not _usable(coef, se, p):
        return "neither the negative-binomial nor the quasi-Poisson model gave a finite estimate"
    # The usual cause: no overdispersion at all (the NB dispersion runs to 0), then this is plain Poisson.
    note = f"negative-binomial fit did not converge; quasi-Poisson used (dispersion {scale:.1f})"
    return _wald(coef, se, p, "quasi-poisson", note)


def _usable(coef: float, se: float, p: float) -> bool:
    return all(math.isfinite(value) for value in (coef, se, p)) and se > 0 and abs(coef) < _MAX_ABS_COEF


def _wald(coef: float, se: float, p: float, method: Method, note: str = "") -> StepEstimate:
    return StepEstimate(math.exp(coef), math.exp(coef - _Z95 * se), math.exp(coef + _Z95 * se), p, method, note)


def _exact_conditional(counts: IntArray, exposure: IntArray, weekdays: IntArray,
                       changed: npt.NDArray[np.bool_]) -> StepEstimate | str:
    side = changed if counts[changed].sum() > 0 else ~changed
    dispersion = _dispersion(counts[side], exposure[side], weekdays[side])
    # Dividing counts by the dispersion gives the "effective" Poisson counts (quasi-likelihood).
    successes = math.floor(counts[changed].sum() / dispersion)
    trials = math.floor(counts.sum() / dispersion)
    if trials == 0:
        return "too few events for a test once overdispersion is allowed for"
    exposure_changed, exposure_baseline = float(exposure[changed].sum()), float(exposure[~changed].sum())
    share = exposure_changed / (exposure_changed + exposure_baseline)
    test = stats.binomtest(successes, trials, share)
    interval = test.proportion_ci(confidence_level=0.95, method="exact")
    scale = exposure_baseline / exposure_changed

    def ratio(proportion: float) -> float | None:
        return None if proportion >= 1.0 else proportion / (1.0 - proportion) * scale

    low = ratio(float(interval.low))
    note = (f"no events before the change: exact conditional test on counts divided by the dispersion "
            f"({dispersion:.1f}); the ratio is a bound")
    if successes == 0:
        note = note.replace("before", "after")
    return StepEstimate(ratio(successes / trials), low if low is not None else math.inf,
                        ratio(float(interval.high)), float(test.pvalue), "exact-conditional", note)


def _dispersion(counts: IntArray, exposure: IntArray, weekdays: IntArray) -> float:
    """Pearson χ²/df of a Poisson model with weekday terms (at least 1)."""
    design = _design(weekdays, np.zeros(weekdays.size, dtype=bool))[:, :-1]
    if counts.size <= design.shape[1] + 1:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = sm.GLM(counts, design, family=sm.families.Poisson(),
                            offset=np.log(exposure.astype(np.float64))).fit()
        except (np.linalg.LinAlgError, ValueError, OverflowError):
            return 1.0
    scale = float(result.pearson_chi2) / max(1.0, float(result.df_resid))
    return max(1.0, scale) if math.isfinite(scale) else 1.0
