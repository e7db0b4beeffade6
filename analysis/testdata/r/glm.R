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
