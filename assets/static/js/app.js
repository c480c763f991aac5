// Rampart's page script. Served from our own origin: the CSP allows no inline script.
"use strict";
document.documentElement.classList.add("js");
