"""Notebook quickstart: from a raw transaction frame to fitted models, plots and CLV.

Run it as a script (``python examples/notebook_quickstart.py OUT_DIR``) or paste the cells into Jupyter, where
each figure renders inline (``fig.show()``). The data are the CDNOW 1/10 sample shipped with socialvalue: one
row per purchase, ``customer_id, date, number_of_cds, dollar_value``; any pandas, Polars or Arrow frame with a
customer, a date and an amount works the same way. CI runs this file (``tests/test_docs.py``).

The same steps with lifetimes 0.11.3, for comparison, are in ``docs/migrating-from-lifetimes.md``.
"""

import sys
from pathlib import Path

import socialvalue as sv
from socialvalue.datasets import cdnow

tx = cdnow.read_log()  # a raw transaction frame

# %% summary, models and CLV: 12 months, 1% a month, as lifetimes' usual call
summary = sv.rfm_summary(tx, "customer_id", "date", monetary_value_col="dollar_value", freq="W")
bgf = sv.BetaGeo().fit(summary)
ggf = sv.GammaGamma().fit(summary)  # fits on the customers with a repeat purchase
clv = sv.lifetimes_clv(bgf, ggf, summary, time=12, discount_rate=0.01, freq="W")

# %% plots (Plotly figures: in Jupyter, fig.show())
figures = {
    "period_transactions": sv.plot.plot_period_transactions(bgf, summary),
    "frequency_recency": sv.plot.plot_frequency_recency_matrix(bgf, data=summary),
    "probability_alive": sv.plot.plot_probability_alive_matrix(bgf, data=summary),
    "clv_distribution": sv.plot.plot_clv_distribution(clv),
    "value_concentration": sv.plot.plot_value_concentration(clv),
}

if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "quickstart_output")
    out.mkdir(parents=True, exist_ok=True)
    for name, fig in figures.items():
        fig.write_html(out / f"{name}.html", include_plotlyjs="directory")
    sys.stdout.write(f"{bgf.summary().round(3)}\n\n{ggf.summary().round(3)}\n\n")
    sys.stdout.write(
        f"12-month CLV: mean {clv.mean():.2f}, top customer {clv.max():.2f}; figures in {out}/\n"
    )
