#!/usr/bin/env python3
"""Reference tail probabilities for analysis/pvalue_test.go.

Computed with mpmath at 60 significant digits (no R on the build machine;
the R values quoted in the test agree with these to R's printed digits):

  normal  z     -> 2*P(Z > |z|)          = erfc(|z|/sqrt(2))            R: 2*pnorm(-abs(z))
  t       t df  -> 2*P(T_df > |t|)       = I_{df/(df+t^2)}(df/2, 1/2)   R: 2*pt(-abs(t), df)
  chisq   x df  -> P(X_df > x)           = Q(df/2, x/2)                  R: pchisq(x, df, lower.tail=FALSE)

Run: python3 tail_pvalues.py > tail_pvalues.tsv
"""
import mpmath as mp

mp.mp.dps = 60

normal = [0.5, 1.96, 5, 8, 8.3, 8.5, 10, 15, 20, 25, 30, 35, 37.5]
t = [(2.5, 10), (10, 5), (30, 10), (12, 200), (50, 100), (20, 1000), (35, 5000), (1e5, 30)]
chisq = [(3.84, 1), (100, 5), (400, 3), (1000, 10), (1200, 40)]

print("dist\tx\tdf\tp")
for z in normal:
    p = mp.erfc(mp.mpf(z) / mp.sqrt(2))
    print("normal\t%r\t0\t%s" % (z, mp.nstr(p, 17, min_fixed=0, max_fixed=0)))
for x, df in t:
    x, df = mp.mpf(x), mp.mpf(df)
    p = mp.betainc(df / 2, mp.mpf(1) / 2, 0, df / (df + x * x), regularized=True)
    print("t\t%r\t%r\t%s" % (float(x), float(df), mp.nstr(p, 17, min_fixed=0, max_fixed=0)))
for x, df in chisq:
    x, df = mp.mpf(x), mp.mpf(df)
    p = mp.gammainc(df / 2, x / 2, mp.inf, regularized=True)
    print("chisq\t%r\t%r\t%s" % (float(x), float(df), mp.nstr(p, 17, min_fixed=0, max_fixed=0)))
