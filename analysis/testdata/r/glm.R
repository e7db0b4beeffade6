# Reference fits for analysis/rglm_test.go, computed once with R and
# checked in (CI has no R). Run from this directory:
#   Rscript glm.R > glm_reference.tsv
# glm_rows.csv is synthetic (package synth, 3,000 people, seed 20261207).
d <- read.csv("glm_rows.csv")
d$sex <- factor(d$sex, levels = c("female", "male"))
d$smoking <- factor(d$smoking, levels = c("never", "former", "current"))
fits <- list(
  logit_terms = glm(cvd_10y ~ age * sex + smoking + sbp + total_chol + hdl + diabetes,
                    family = binomial("logit"), data = d, control = glm.control(epsilon = 1e-14, maxit = 50)),
  logit_colon = glm(cvd_10y ~ age + sex + age:smoking + bmi,
                    family = binomial("logit"), data = d, control = glm.control(epsilon = 1e-14, maxit = 50)),
  cloglog = glm(cvd_10y ~ age + sbp + diabetes,
                family = binomial("cloglog"), data = d, control = glm.control(epsilon = 1e-14, maxit = 50)),
  linear = lm(sbp ~ age + sex + smoking + bmi, data = d)
)
d2 <- d
d2$smoking <- relevel(d2$smoking, ref = "current")
fits$logit_reference <- glm(cvd_10y ~ age + smoking, family = binomial("logit"), data = d2,
                            control = glm.control(epsilon = 1e-14, maxit = 50))
cat("model\tterm\testimate\tse\tstat\tp\n")
for (m in names(fits)) {
  co <- summary(fits[[m]])$coefficients
  for (i in seq_len(nrow(co))) {
    cat(m, "\t", rownames(co)[i], "\t",
        sprintf("%.17g\t%.17g\t%.17g\t%.17g", co[i, 1], co[i, 2], co[i, 3], co[i, 4]), "\n", sep = "")
  }
}
# Robust (sandwich, HC0) standard errors, without the sandwich package:
# B M B with B the unscaled covariance and M the outer products of the
# rows' score contributions (working residual × working weight × x).
hc0 <- function(fit) {
  X <- model.matrix(fit)
  if (inherits(fit, "glm")) {
    s <- X * (residuals(fit, "working") * weights(fit, "working"))
    B <- summary(fit)$cov.unscaled
  } else {
    s <- X * residuals(fit)
    B <- solve(crossprod(X))
  }
  B %*% crossprod(s) %*% B
}
robust <- list(logit_terms_hc0 = fits$logit_terms, cloglog_hc0 = fits$cloglog, linear_hc0 = fits$linear)
for (m in names(robust)) {
  fit <- robust[[m]]
  b <- coef(fit)
  se <- sqrt(diag(hc0(fit)))
  stat <- b / se
  p <- if (inherits(fit, "glm")) 2 * pnorm(-abs(stat)) else 2 * pt(-abs(stat), df.residual(fit))
  for (i in seq_along(b)) {
    cat(m, "\t", names(b)[i], "\t", sprintf("%.17g\t%.17g\t%.17g\t%.17g", b[i], se[i], stat[i], p[i]), "\n", sep = "")
  }
}
# Likelihood-ratio (and, for lm, F) tests of nested models: the row's
# "term" is the test, estimate the statistic, se the degrees of freedom.
ctl <- glm.control(epsilon = 1e-14, maxit = 50)
tests <- list(
  lrt_smoking = list(fits$logit_terms,
    glm(cvd_10y ~ age * sex + sbp + total_chol + hdl + diabetes, family = binomial("logit"), data = d, control = ctl)),
  lrt_age_sex = list(fits$logit_terms,
    glm(cvd_10y ~ smoking + sbp + total_chol + hdl + diabetes, family = binomial("logit"), data = d, control = ctl)),
  f_smoking = list(fits$linear, lm(sbp ~ age + sex + bmi, data = d))
)
for (m in names(tests)) {
  a <- anova(tests[[m]][[2]], tests[[m]][[1]], test = if (inherits(tests[[m]][[1]], "glm")) "LRT" else "F")
  if (inherits(tests[[m]][[1]], "glm")) {
    cat(m, "\tchisq\t", sprintf("%.17g\t%.17g\t%.17g\t%.17g", a$Deviance[2], a$Df[2], NA, a[["Pr(>Chi)"]][2]), "\n", sep = "")
  } else {
    cat(m, "\tF\t", sprintf("%.17g\t%.17g\t%.17g\t%.17g", a$F[2], a$Df[2], a$Res.Df[1 + 1], a[["Pr(>F)"]][2]), "\n", sep = "")
  }
}
