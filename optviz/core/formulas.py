"""The update rule the Explorer shows for each torch.optim class: its LaTeX, and the same rule as a plain float64 step.

The two are kept side by side so they change together; tests/test_formulas.py runs each transcription next to torch's
own ``step()`` and compares the parameters and every state entry the formula names. A transcription takes
``(θ, ∇f(θ), state, options)``, updates ``state`` under torch's own key names, and returns the new θ.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)   # torch's Muon default (a, b, c)


@dataclass(frozen=True)
class UpdateRule:
    latex: str
    step: Callable[[np.ndarray, np.ndarray, dict, dict], np.ndarray]


def _rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(a * a)))


def _signed(grad: np.ndarray, o: dict) -> np.ndarray:
    return -grad if o.get("maximize") else grad


def _coupled(theta: np.ndarray, grad: np.ndarray, o: dict, decoupled: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """g_t = ±∇f + λθ, or (decoupled) θ ← (1 − γλ)θ and g_t = ±∇f."""
    g, wd = _signed(grad, o), o.get("weight_decay", 0.0)
    if wd and decoupled:
        return theta * (1 - o["lr"] * wd), g
    return theta, g + wd * theta


def _moments(s: dict, g: np.ndarray, beta1: float, beta2: float) -> tuple[np.ndarray, np.ndarray]:
    s["exp_avg"] = beta1 * s.get("exp_avg", 0.0) + (1 - beta1) * g
    s["exp_avg_sq"] = beta2 * s.get("exp_avg_sq", 0.0) + (1 - beta2) * g * g
    return s["exp_avg"], s["exp_avg_sq"]


def _tick(s: dict) -> int:
    s["step"] = s.get("step", 0) + 1
    return s["step"]


# -- SGD ----------------------------------------------------------------------------------------------

SGD_LATEX = r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1}\\
b_1 &= g_1,\quad b_t = \mu\, b_{t-1} + (1-\tau)\, g_t \qquad (\text{kept only if } \mu > 0)\\
\theta_t &= \theta_{t-1} - \gamma\, d_t,\qquad d_t = g_t + \mu\, b_t \text{ (Nesterov)},\ \ b_t \text{ (}\mu > 0\text{)},\ \ g_t \text{ (}\mu = 0\text{)}\\
&\gamma = \text{lr},\ \mu = \text{momentum},\ \tau = \text{dampening},\ \lambda = \text{weight\_decay}\\
&b = \text{momentum\_buffer};\ \text{maximize uses } {-\nabla f}
\end{aligned}"""


def sgd_step(theta, grad, s, o):
    theta, g = _coupled(theta, grad, o)
    mu = o["momentum"]
    if mu == 0:
        return theta - o["lr"] * g
    s["momentum_buffer"] = g.copy() if "momentum_buffer" not in s else mu * s["momentum_buffer"] + (1 - o["dampening"]) * g
    b = s["momentum_buffer"]
    return theta - o["lr"] * (g + mu * b if o["nesterov"] else b)


# -- Adam, AdamW --------------------------------------------------------------------------------------

def _adam_latex(decay: str) -> str:
    return (r"""\begin{aligned}
""" + decay + r"""\\
m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2,\quad m_0 = v_0 = 0\\
\hat v_t &= v_t, \text{ or with amsgrad } \hat v_t = \max(\hat v_{t-1}, v_t)\\
\theta_t &= \theta_{t-1} - \gamma\, \frac{m_t / (1-\beta_1^t)}{\sqrt{\hat v_t / (1-\beta_2^t)} + \epsilon}\\
&\gamma = \text{lr},\ \lambda = \text{weight\_decay};\ \text{maximize uses } {-\nabla f}\\
&m = \text{exp\_avg},\ v = \text{exp\_avg\_sq},\ \hat v = \text{max\_exp\_avg\_sq}
\end{aligned}""")


_ADAM_DECAY = (r"g_t &= \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1}\\" "\n"
               r"&\text{(with decoupled\_weight\_decay: } g_t = \nabla f(\theta_{t-1}),\ \theta_{t-1} \leftarrow (1-\gamma\lambda)\,\theta_{t-1}\text{)}")
ADAM_LATEX = _adam_latex(_ADAM_DECAY)
ADAMW_LATEX = _adam_latex(r"g_t &= \nabla f(\theta_{t-1}),\quad \theta_{t-1} \leftarrow (1-\gamma\lambda)\,\theta_{t-1} \qquad \text{(decoupled decay)}")


def _adam(theta, grad, s, o, decoupled):
    theta, g = _coupled(theta, grad, o, decoupled)
    t = _tick(s)
    (beta1, beta2), eps = o["betas"], o["eps"]
    m, v = _moments(s, g, beta1, beta2)
    if o["amsgrad"]:
        s["max_exp_avg_sq"] = np.maximum(s.get("max_exp_avg_sq", 0.0), v)
        v = s["max_exp_avg_sq"]
    return theta - o["lr"] * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)


def adam_step(theta, grad, s, o):
    return _adam(theta, grad, s, o, o.get("decoupled_weight_decay", False))


def adamw_step(theta, grad, s, o):
    return _adam(theta, grad, s, o, True)


# -- Adagrad, Adadelta, Adamax ------------------------------------------------------------------------

ADAGRAD_LATEX = r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1}\\
s_0 &= \text{initial\_accumulator\_value},\quad s_t = s_{t-1} + g_t^2\\
\theta_t &= \theta_{t-1} - \frac{\gamma}{1 + (t-1)\,\eta}\, \frac{g_t}{\sqrt{s_t} + \epsilon}\\
&\gamma = \text{lr},\ \eta = \text{lr\_decay},\ \lambda = \text{weight\_decay};\ s = \text{sum};\ \text{maximize uses } {-\nabla f}
\end{aligned}"""


def adagrad_step(theta, grad, s, o):
    theta, g = _coupled(theta, grad, o)
    t = _tick(s)
    s["sum"] = s.get("sum", o["initial_accumulator_value"]) + g * g
    return theta - o["lr"] / (1 + (t - 1) * o["lr_decay"]) * g / (np.sqrt(s["sum"]) + o["eps"])


ADADELTA_LATEX = r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1}\\
v_t &= \rho\, v_{t-1} + (1-\rho)\, g_t^2,\quad \Delta_t = \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t,
\quad u_t = \rho\, u_{t-1} + (1-\rho)\, \Delta_t^2,\quad v_0 = u_0 = 0\\
\theta_t &= \theta_{t-1} - \gamma\, \Delta_t\\
&\gamma = \text{lr},\ \lambda = \text{weight\_decay};\ v = \text{square\_avg},\ u = \text{acc\_delta};\ \text{maximize uses } {-\nabla f}
\end{aligned}"""


def adadelta_step(theta, grad, s, o):
    theta, g = _coupled(theta, grad, o)
    _tick(s)
    rho, eps = o["rho"], o["eps"]
    s["square_avg"] = rho * s.get("square_avg", 0.0) + (1 - rho) * g * g
    delta = np.sqrt(s.get("acc_delta", 0.0) + eps) / np.sqrt(s["square_avg"] + eps) * g
    s["acc_delta"] = rho * s.get("acc_delta", 0.0) + (1 - rho) * delta * delta
    return theta - o["lr"] * delta


ADAMAX_LATEX = r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1}\\
m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t,\quad u_t = \max(\beta_2 u_{t-1},\ |g_t| + \epsilon),\quad m_0 = u_0 = 0\\
\theta_t &= \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\, \frac{m_t}{u_t}\\
&\gamma = \text{lr},\ \lambda = \text{weight\_decay};\ m = \text{exp\_avg},\ u = \text{exp\_inf};\ \text{maximize uses } {-\nabla f}
\end{aligned}"""


def adamax_step(theta, grad, s, o):
    theta, g = _coupled(theta, grad, o)
    t = _tick(s)
    (beta1, beta2), eps = o["betas"], o["eps"]
    s["exp_avg"] = beta1 * s.get("exp_avg", 0.0) + (1 - beta1) * g
    s["exp_inf"] = np.maximum(beta2 * s.get("exp_inf", 0.0), np.abs(g) + eps)
    return theta - o["lr"] / (1 - beta1 ** t) * s["exp_avg"] / s["exp_inf"]


# -- NAdam, RAdam -------------------------------------------------------------------------------------


NADAM_LATEX = r"""\begin{aligned}
""" + _ADAM_DECAY + r"""\\
\mu_t &= \beta_1\big(1 - \tfrac12\, 0.96^{\,t\psi}\big),\quad \Pi_t = \Pi_{t-1}\,\mu_t,\quad \Pi_0 = 1\\
m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2,\quad m_0 = v_0 = 0\\
\theta_t &= \theta_{t-1} - \gamma\, \frac{\frac{1-\mu_t}{1-\Pi_t}\, g_t + \frac{\mu_{t+1}}{1-\Pi_t\,\mu_{t+1}}\, m_t}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon}\\
&\gamma = \text{lr},\ \psi = \text{momentum\_decay},\ \lambda = \text{weight\_decay};\ \text{maximize uses } {-\nabla f}\\
&\Pi = \text{mu\_product},\ m = \text{exp\_avg},\ v = \text{exp\_avg\_sq}
\end{aligned}"""


def nadam_step(theta, grad, s, o):
    theta, g = _coupled(theta, grad, o, o["decoupled_weight_decay"])
    t = _tick(s)
    (beta1, beta2), eps, psi = o["betas"], o["eps"], o["momentum_decay"]
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    s["mu_product"] = s.get("mu_product", 1.0) * mu
    prod = s["mu_product"]
    m, v = _moments(s, g, beta1, beta2)
    denom = np.sqrt(v / (1 - beta2 ** t)) + eps
    return theta - o["lr"] * ((1 - mu) / (1 - prod) * g + mu_next / (1 - prod * mu_next) * m) / denom


RADAM_LATEX = r"""\begin{aligned}
""" + _ADAM_DECAY + r"""\\
m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2,\quad m_0 = v_0 = 0\\
\rho_\infty &= \frac{2}{1-\beta_2} - 1,\quad \rho_t = \rho_\infty - \frac{2t\,\beta_2^t}{1-\beta_2^t},\quad
r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\,\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\,\rho_t}}\\
\theta_t &= \theta_{t-1} - \gamma\, \frac{m_t}{1-\beta_1^t} \cdot \begin{cases} r_t\, \dfrac{\sqrt{1-\beta_2^t}}{\sqrt{v_t} + \epsilon} & \rho_t > 5\\
1 & \text{otherwise (plain momentum step)}\end{cases}\\
&\gamma = \text{lr},\ \lambda = \text{weight\_decay};\ m = \text{exp\_avg},\ v = \text{exp\_avg\_sq};\ \text{maximize uses } {-\nabla f}
\end{aligned}"""


def radam_step(theta, grad, s, o):
    theta, g = _coupled(theta, grad, o, o["decoupled_weight_decay"])
    t = _tick(s)
    (beta1, beta2), eps = o["betas"], o["eps"]
    m, v = _moments(s, g, beta1, beta2)
    m_hat = m / (1 - beta1 ** t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2 ** t / (1 - beta2 ** t)
    if rho_t <= 5:
        return theta - o["lr"] * m_hat
    r = np.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    return theta - o["lr"] * m_hat * r * np.sqrt(1 - beta2 ** t) / (np.sqrt(v) + eps)


# -- RMSprop, Rprop, ASGD -----------------------------------------------------------------------------

RMSPROP_LATEX = r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}) + \lambda\,\theta_{t-1}\\
v_t &= \alpha\, v_{t-1} + (1-\alpha)\, g_t^2,\quad v_0 = 0\\
\bar g_t &= \alpha\, \bar g_{t-1} + (1-\alpha)\, g_t,\quad \bar g_0 = 0 \qquad \text{(kept only if centered)}\\
d_t &= \sqrt{v_t - \bar g_t^2} + \epsilon \text{ (centered), else } \sqrt{v_t} + \epsilon\\
\theta_t &= \theta_{t-1} - \gamma\, b_t,\quad b_t = \mu\, b_{t-1} + g_t / d_t,\quad b_0 = 0 \qquad (\mu = 0:\ \theta_t = \theta_{t-1} - \gamma\, g_t / d_t)\\
&\gamma = \text{lr},\ \mu = \text{momentum},\ \lambda = \text{weight\_decay};\ \text{maximize uses } {-\nabla f}\\
&v = \text{square\_avg},\ \bar g = \text{grad\_avg},\ b = \text{momentum\_buffer}
\end{aligned}"""


def rmsprop_step(theta, grad, s, o):
    theta, g = _coupled(theta, grad, o)
    _tick(s)
    alpha, eps, mu = o["alpha"], o["eps"], o["momentum"]
    s["square_avg"] = alpha * s.get("square_avg", 0.0) + (1 - alpha) * g * g
    if o["centered"]:
        s["grad_avg"] = alpha * s.get("grad_avg", 0.0) + (1 - alpha) * g
        d = np.sqrt(s["square_avg"] - s["grad_avg"] ** 2) + eps
    else:
        d = np.sqrt(s["square_avg"]) + eps
    if mu > 0:
        s["momentum_buffer"] = mu * s.get("momentum_buffer", 0.0) + g / d
        return theta - o["lr"] * s["momentum_buffer"]
    return theta - o["lr"] * g / d


RPROP_LATEX = r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}),\quad \sigma_t = \mathrm{sign}(g_t\, g'_{t-1}),\quad g'_0 = 0,\ \eta_0 = \gamma\\
\eta_t &= \mathrm{clip}\big(\eta_{t-1} \cdot (\eta^+ \text{ if } \sigma_t > 0,\ \eta^- \text{ if } \sigma_t < 0,
1 \text{ if } \sigma_t = 0),\ \eta_{\min},\ \eta_{\max}\big)\\
g'_t &= 0 \text{ where } \sigma_t < 0 \text{ (no step after a sign flip), else } g_t\\
\theta_t &= \theta_{t-1} - \eta_t\, \mathrm{sign}(g'_t)\\
&\gamma = \text{lr},\ (\eta^-, \eta^+) = \text{etas},\ (\eta_{\min}, \eta_{\max}) = \text{step\_sizes};\ \text{maximize uses } {-\nabla f}\\
&\eta = \text{step\_size},\ g' = \text{prev}
\end{aligned}"""


def rprop_step(theta, grad, s, o):
    g = _signed(grad, o)
    _tick(s)
    (eta_minus, eta_plus), (lo, hi) = o["etas"], o["step_sizes"]
    sign = np.sign(g * s.get("prev", np.zeros_like(g)))
    factor = np.where(sign > 0, eta_plus, np.where(sign < 0, eta_minus, 1.0))
    s["step_size"] = np.clip(s.get("step_size", np.full_like(g, o["lr"])) * factor, lo, hi)
    g = np.where(sign < 0, 0.0, g)
    s["prev"] = g
    return theta - s["step_size"] * np.sign(g)


ASGD_LATEX = r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}) + \omega\,\theta_{t-1}\\
\theta_t &= (1 - \lambda\,\eta_{t-1})\,\theta_{t-1} - \eta_{t-1}\, g_t,\quad \bar\theta_t = \bar\theta_{t-1} + \mu_{t-1}\,(\theta_t - \bar\theta_{t-1})\\
\eta_t &= \frac{\gamma}{(1 + \lambda\gamma t)^{\alpha}},\quad \mu_t = \frac{1}{\max(1,\ t - t_0)},\quad \eta_0 = \gamma,\ \mu_0 = 1,\ \bar\theta_0 = 0\\
&\gamma = \text{lr},\ \lambda = \text{lambd},\ \omega = \text{weight\_decay};\ \eta = \text{eta},\ \mu = \text{mu},
\bar\theta = \text{ax};\ \text{maximize uses } {-\nabla f}
\end{aligned}"""


def asgd_step(theta, grad, s, o):
    theta, g = _coupled(theta, grad, o)
    t = _tick(s)
    eta, mu = s.get("eta", o["lr"]), s.get("mu", 1.0)
    theta = (1 - o["lambd"] * eta) * theta - eta * g
    ax = s.get("ax", np.zeros_like(theta))
    s["ax"] = ax + mu * (theta - ax)
    s["eta"] = o["lr"] / (1 + o["lambd"] * o["lr"] * t) ** o["alpha"]
    s["mu"] = 1 / max(1, t - o["t0"])
    return theta


# -- LBFGS ----------------------------------------------------------------------------------------------

LBFGS_LATEX = r"""\begin{aligned}
&\text{each step(closure) runs up to max\_iter iterations } k:\\
d_1 &= -g_1,\quad d_k = -H_k\, g_k \quad \text{(two-loop recursion over the last } m \text{ pairs } (s, y)\text{)}\\
s &= \alpha_{k-1} d_{k-1},\quad y = g_k - g_{k-1},\quad \text{a pair is kept only if } y^\top s > 10^{-10}\\
H_k^0 &= \frac{y^\top s}{y^\top y}\, I \text{ for the newest pair}\\
\theta_{k+1} &= \theta_k + \alpha_k\, d_k,\quad \alpha_k = \gamma \cdot \min(1,\ 1/\lVert g_1 \rVert_1) \text{ at the very first iteration, else } \gamma\\
&\text{(with line\_search\_fn = strong\_wolfe: } \alpha_k \text{ from the line search)}\\
&\gamma = \text{lr},\ m = \text{history\_size};\ \alpha = \text{t},\ y = \text{old\_dirs},\ s = \text{old\_stps},\ g_{k-1} = \text{prev\_flat\_grad}
\end{aligned}"""


def lbfgs_step(theta, grad, s, o):
    """One step() with max_iter = 1 and no line search: one iteration of the rule above."""
    if s.get("n_iter", 0) == 0:
        d, s["old_dirs"], s["old_stps"], s["H_diag"] = -grad, [], [], 1.0
    else:
        y, step = grad - s["prev_flat_grad"], s["d"] * s["t"]
        if y @ step > 1e-10:
            if len(s["old_dirs"]) == o["history_size"]:
                s["old_dirs"].pop(0)
                s["old_stps"].pop(0)
            s["old_dirs"].append(y)
            s["old_stps"].append(step)
            s["H_diag"] = (y @ step) / (y @ y)
        q, al = -grad, []
        for yi, si in zip(reversed(s["old_dirs"]), reversed(s["old_stps"]), strict=True):
            al.append((si @ q) / (yi @ si))
            q = q - al[-1] * yi
        d = q * s["H_diag"]
        for yi, si, a in zip(s["old_dirs"], s["old_stps"], reversed(al), strict=True):
            d = d + (a - (yi @ d) / (yi @ si)) * si
    s["t"] = o["lr"] * (min(1.0, 1.0 / np.abs(grad).sum()) if s.get("n_iter", 0) == 0 else 1.0)
    s["n_iter"] = s.get("n_iter", 0) + 1
    s["d"], s["prev_flat_grad"] = d, grad
    return theta + s["t"] * d


# -- Adafactor, Muon, SparseAdam ----------------------------------------------------------------------

ADAFACTOR_LATEX = r"""\begin{aligned}
g_t &= \nabla f(\theta_{t-1}),\quad \alpha_t = \max\big(\epsilon_2,\ \mathrm{RMS}(\theta_{t-1})\big)\, \min(\gamma,\ 1/\sqrt t)\\
&\text{then } \theta_{t-1} \leftarrow (1-\gamma\lambda)\,\theta_{t-1}\\
v_t &= \beta_{2,t}\, v_{t-1} + (1-\beta_{2,t})\, g_t^2,\quad \beta_{2,t} = 1 - t^{c},\quad v_0 = 0\\
u_t &= g_t \big/ \sqrt{\max(v_t,\ \epsilon_1^2)}\\
\theta_t &= \theta_{t-1} - \alpha_t\, \frac{u_t}{\max\big(1,\ \mathrm{RMS}(u_t)/d\big)}\\
&\gamma = \text{lr},\ c = \text{beta2\_decay},\ (\epsilon_1, \epsilon_2) = \text{eps}\ (\text{null } \epsilon_1 = \text{machine epsilon}),
\lambda = \text{weight\_decay}\\
&v = \text{variance} \text{ (a vector } \theta \text{ as here; a matrix keeps row\_var, col\_var)};\ \text{maximize uses } {-\nabla f}
\end{aligned}"""


def adafactor_step(theta, grad, s, o):
    g = _signed(grad, o)
    t = _tick(s)
    eps1, eps2 = o["eps"]
    eps1 = np.finfo(theta.dtype).eps if eps1 is None else eps1
    alpha = max(eps2, _rms(theta)) * min(o["lr"], 1 / np.sqrt(t))
    theta = theta * (1 - o["lr"] * o["weight_decay"])
    w = t ** o["beta2_decay"]
    s["variance"] = (1 - w) * s.get("variance", 0.0) + w * g * g
    u = g / np.sqrt(np.maximum(s["variance"], eps1 * eps1))
    return theta - alpha * u / max(1.0, _rms(u) / o["d"])


MUON_LATEX = r"""\begin{aligned}
G_t &= \nabla f(\theta_{t-1}),\quad B_t = \mu\, B_{t-1} + (1-\mu)\, G_t,\quad B_0 = 0 \qquad (\text{buf.lerp\_(grad, } 1-\mu\text{)})\\
U_t &= (1-\mu)\, G_t + \mu\, B_t \text{ (Nesterov), else } B_t\\
\theta_t &= (1-\gamma\lambda)\,\theta_{t-1} - \gamma\, s\, \mathrm{NS}(U_t)\\
s &= \sqrt{\max(1,\ m/n)},\ \text{ or } 0.2\sqrt{\max(m, n)} \text{ with adjust\_lr\_fn = match\_rms\_adamw}\\
\mathrm{NS}(U)&:\ X \leftarrow U / \max(\lVert U \rVert_F,\ \epsilon), \text{ then ns\_steps times}\\
&\phantom{:\ } X \leftarrow aX + \big(b\, XX^\top + c\,(XX^\top)^2\big) X \text{ in bfloat16}\\
&\gamma = \text{lr},\ \mu = \text{momentum},\ \lambda = \text{weight\_decay (default 0.1)},\ \theta \text{ is } m \times n\\
&(a, b, c) = (3.4445, -4.775, 2.0315);\ B = \text{momentum\_buffer}
\end{aligned}"""


def bfloat16(x) -> np.ndarray:
    """Round to bfloat16 (through float32, nearest-even on the 16 dropped bits), returned as float64."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return bits.astype(np.uint32).view(np.float32).astype(np.float64)


def newton_schulz(u: np.ndarray, steps: int, eps: float, coefficients=NS_COEFFICIENTS, rounding=bfloat16) -> np.ndarray:
    """torch's quintic Newton–Schulz orthogonalisation; like torch, every operation's result is rounded to bfloat16
    (``rounding=np.asarray`` gives the exact float64 iteration)."""
    a, b, c = coefficients
    x = rounding(u.T if u.shape[0] > u.shape[1] else u)
    x = rounding(x / max(float(rounding(np.linalg.norm(x))), eps))
    for _ in range(steps):
        gram = rounding(x @ x.T)
        x = rounding(a * x + rounding(b * gram + c * gram @ gram) @ x)
    return x.T if u.shape[0] > u.shape[1] else x


def muon_step(theta, grad, s, o):
    mu = o["momentum"]
    s["momentum_buffer"] = mu * s.get("momentum_buffer", 0.0) + (1 - mu) * grad
    update = (1 - mu) * grad + mu * s["momentum_buffer"] if o["nesterov"] else s["momentum_buffer"]
    rows, cols = theta.shape
    scale = 0.2 * np.sqrt(max(rows, cols)) if o["adjust_lr_fn"] == "match_rms_adamw" else np.sqrt(max(1, rows / cols))
    ns = newton_schulz(update, o["ns_steps"], o["eps"], o.get("ns_coefficients", NS_COEFFICIENTS))
    return (1 - o["lr"] * o["weight_decay"]) * theta - o["lr"] * scale * ns


SPARSE_ADAM_LATEX = r"""\begin{aligned}
&\text{only the entries where } g_t \ne 0 \text{ change; } t \text{ counts step() calls}\\
m_t &= \beta_1 m_{t-1} + (1-\beta_1)\, g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2)\, g_t^2,\quad m_0 = v_0 = 0\\
\theta_t &= \theta_{t-1} - \gamma\, \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\, \frac{m_t}{\sqrt{v_t} + \epsilon}\\
&\gamma = \text{lr};\ m = \text{exp\_avg},\ v = \text{exp\_avg\_sq};\ \text{maximize uses } {-\nabla f}
\end{aligned}"""


def sparse_adam_step(theta, grad, s, o):
    g = _signed(grad, o)
    t = _tick(s)
    (beta1, beta2), eps = o["betas"], o["eps"]
    on = g != 0
    m, v = s.get("exp_avg", np.zeros_like(g)), s.get("exp_avg_sq", np.zeros_like(g))
    s["exp_avg"] = np.where(on, beta1 * m + (1 - beta1) * g, m)
    s["exp_avg_sq"] = np.where(on, beta2 * v + (1 - beta2) * g * g, v)
    size = o["lr"] * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return np.where(on, theta - size * s["exp_avg"] / (np.sqrt(s["exp_avg_sq"]) + eps), theta)


UPDATE_RULES: dict[str, UpdateRule] = {
    "SGD": UpdateRule(SGD_LATEX, sgd_step),
    "Adam": UpdateRule(ADAM_LATEX, adam_step),
    "AdamW": UpdateRule(ADAMW_LATEX, adamw_step),
    "Adagrad": UpdateRule(ADAGRAD_LATEX, adagrad_step),
    "Adadelta": UpdateRule(ADADELTA_LATEX, adadelta_step),
    "Adamax": UpdateRule(ADAMAX_LATEX, adamax_step),
    "NAdam": UpdateRule(NADAM_LATEX, nadam_step),
    "RAdam": UpdateRule(RADAM_LATEX, radam_step),
    "RMSprop": UpdateRule(RMSPROP_LATEX, rmsprop_step),
    "Rprop": UpdateRule(RPROP_LATEX, rprop_step),
    "ASGD": UpdateRule(ASGD_LATEX, asgd_step),
    "LBFGS": UpdateRule(LBFGS_LATEX, lbfgs_step),
    "Adafactor": UpdateRule(ADAFACTOR_LATEX, adafactor_step),
    "Muon": UpdateRule(MUON_LATEX, muon_step),
    "SparseAdam": UpdateRule(SPARSE_ADAM_LATEX, sparse_adam_step),
}
