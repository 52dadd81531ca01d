# Reference fixture for nnet::multinom(..., censored = TRUE).
#
# Run from the repository root:  Rscript tests/r/make_fixtures_censored.R
# Writes tests/fixtures/censored.json and tests/fixtures/data/censored.csv.
#
# A censored row marks with 1 every class the observation may belong to; the
# log-likelihood is sum_i w_i log(sum_{k possible} p_ik). nnet's BFGS stops
# ~1e-7 away from the optimum, so its solution is polished here with Newton
# steps on the same likelihood written out in R (analytic gradient, Hessian
# by optimHess on that gradient). nnet is only called, never copied.
suppressPackageStartupMessages({library(nnet); library(jsonlite)})

set.seed(20261204)
n <- 400
x <- round(rnorm(n), 4)
g <- factor(sample(c("u", "v", "w"), n, replace = TRUE))
eta <- cbind(0, 0.4 + 0.8 * x + 0.5 * (g == "v"), -0.3 - 0.6 * x + 0.9 * (g == "w"))
P <- exp(eta) / rowSums(exp(eta))
y <- apply(P, 1, function(p) sample(1:3, 1, prob = p))
S <- matrix(0L, n, 3); S[cbind(1:n, y)] <- 1L
cens <- which(runif(n) < 0.3)                  # 30% of rows: one more possible class
for (i in cens) S[i, sample(setdiff(1:3, y[i]), 1)] <- 1L
w <- sample(1:3, n, replace = TRUE)            # frequency weights
d <- data.frame(a = S[, 1], b = S[, 2], c = S[, 3], x = x, g = g, w = w)
dir.create("tests/fixtures/data", showWarnings = FALSE, recursive = TRUE)
write.csv(d, "tests/fixtures/data/censored.csv", row.names = FALSE)

fit <- multinom(cbind(a, b, c) ~ x + g, data = d, weights = w, censored = TRUE,
                reltol = 1e-16, maxit = 10000, MaxNWts = 1e6, trace = FALSE)
stopifnot(fit$convergence == 0)

X <- model.matrix(~ x + g, d)
p <- ncol(X); K <- 3
negll <- function(beta) {
  B <- matrix(beta, nrow = K - 1, byrow = TRUE)        # level-major, as nnet
  E <- cbind(0, X %*% t(B)); E <- E - apply(E, 1, max)
  lp <- E - log(rowSums(exp(E)))
  -sum(w * log(rowSums(exp(lp) * S)))
}
grad <- function(beta) {
  B <- matrix(beta, nrow = K - 1, byrow = TRUE)
  E <- cbind(0, X %*% t(B)); E <- E - apply(E, 1, max)
  Pr <- exp(E) / rowSums(exp(E))
  Q <- Pr * S / rowSums(Pr * S)
  R <- w * (Pr - Q)[, -1, drop = FALSE]
  as.vector(t(t(R) %*% X))
}
beta <- as.vector(t(coef(fit)))
steps <- c()
for (it in 1:5) {
  H <- optimHess(beta, negll, grad)
  step <- solve(H, grad(beta))
  beta <- beta - step
  steps <- c(steps, max(abs(step)))
}
H <- optimHess(beta, negll, grad)
B <- matrix(beta, nrow = K - 1, byrow = TRUE, dimnames = dimnames(coef(fit)))
out <- list(
  name = "censored",
  description = "cbind(a, b, c) ~ x + g with censored = TRUE (30% of rows have two possible classes), integer weights w",
  provenance = list(R = R.version.string, nnet = as.character(packageVersion("nnet")),
                    call = "multinom(cbind(a, b, c) ~ x + g, data = d, weights = w, censored = TRUE, reltol = 1e-16, maxit = 10000, MaxNWts = 1e6)",
                    polish = "5 Newton steps on the censored log-likelihood (analytic gradient, optimHess)",
                    date = as.character(Sys.Date())),
  data_csv = "censored.csv", formula = "cbind(a, b, c) ~ x + g",
  python = list(weights = "w", censored = TRUE),
  levels = c("a", "b", "c"), coef_names = colnames(X),
  coef = unname(split(B, row(B))), coef_nnet = unname(split(coef(fit), row(coef(fit)))),
  newton_steps = steps,
  loglik = -negll(beta), deviance = 2 * negll(beta), deviance_nnet = fit$deviance,
  hessian = unname(split(H, row(H))),
  se = sqrt(diag(solve(H))))
write_json(out, "tests/fixtures/censored.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote tests/fixtures/censored.json; Newton steps:", format(steps, digits = 3), "\n")
