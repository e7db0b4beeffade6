# Reference values for the survival analyses (package analysis, survival_test.go).
# Computed with R 4.2.2 and survival 3.5.3 (control: eps 1e-14, iter.max 100). Run from this
# directory with R >= 4.2 and the survival package:
#   Rscript survival.R
# It reads cohort.csv (written by `go test ./analysis -run TestSurvivalCohortFile
# -update-survival`) and writes the *.ref.csv files the tests compare with.
suppressMessages(library(survival))
d <- read.csv("cohort.csv")
fmt <- function(x) trimws(formatC(x, digits = 17, format = "g"))
out <- function(df, file) {
  df[] <- lapply(df, function(col) if (is.numeric(col)) fmt(col) else col)
  write.csv(df, file, row.names = FALSE, quote = FALSE)
}
ctl <- coxph.control(eps = 1e-14, iter.max = 100, toler.chol = 1e-15)
f <- Surv(time, event) ~ age + sbp + total_chol + hdl + smoker + diabetes + male

cox <- function(data, ties, file) {
  m <- coxph(f, data = data, ties = ties, control = ctl)
  s <- summary(m)
  cf <- s$coefficients
  out(data.frame(term = rownames(cf), coef = cf[, "coef"], se = cf[, "se(coef)"], z = cf[, "z"], p = cf[, "Pr(>|z|)"],
                 lower = s$conf.int[, "lower .95"], upper = s$conf.int[, "upper .95"]), paste0(file, ".ref.csv"))
  out(data.frame(n = m$n, events = m$nevent, loglik_null = m$loglik[1], loglik = m$loglik[2],
                 lr = 2 * diff(m$loglik), wald = m$wald.test, score = m$score,
                 concordance = s$concordance["C"]), paste0(file, "_fit.ref.csv"))
}
cox(d, "efron", "cox_efron")
cox(d, "breslow", "cox_breslow")

# The grid: whole years 1..15. A time in (g[k-1], g[k]] becomes g[k]; beyond the
# last point, a censoring at it.
grid <- 1:15
coarsen <- function(d) {
  k <- findInterval(d$time, grid, left.open = TRUE) + 1
  beyond <- k > length(grid)
  d$time <- grid[pmin(k, length(grid))]
  d$event[beyond] <- 0
  d
}
dg <- coarsen(d)
cox(dg, "efron", "cox_grid_efron")
cox(dg, "breslow", "cox_grid_breslow")

# Kaplan-Meier by sex (male 0, 1), every step.
km <- survfit(Surv(time, event) ~ male, data = d)
strata <- rep(sub("male=", "", names(km$strata)), km$strata)
out(data.frame(group = strata, time = km$time, n_risk = km$n.risk, n_event = km$n.event, n_censor = km$n.censor,
               surv = km$surv, std_err = km$std.err, lower = km$lower, upper = km$upper), "km_male.ref.csv")
# Kaplan-Meier of everyone on the grid.
kg <- summary(survfit(Surv(time, event) ~ 1, data = dg), times = grid, extend = TRUE)
out(data.frame(time = kg$time, n_risk = kg$n.risk, n_event = kg$n.event, surv = kg$surv,
               std_err = kg$std.err / kg$surv, lower = kg$lower, upper = kg$upper), "km_grid.ref.csv")
# Log-rank test by sex and by smoking.
lr <- function(formula, file) {
  s <- survdiff(formula, data = d)
  out(data.frame(group = sub(".*=", "", names(s$n)), n = as.vector(s$n), observed = s$obs, expected = s$exp,
                 chisq = s$chisq, df = length(s$n) - 1,
                 p = pchisq(s$chisq, length(s$n) - 1, lower.tail = FALSE)), file)
}
lr(Surv(time, event) ~ male, "logrank_male.ref.csv")
lr(Surv(time, event) ~ smoker, "logrank_smoker.ref.csv")
