/* Live character and SMS-part counter for textareas marked data-sms-counter="<counter id>".
   Same rules as playbooks.services.sms_parts: GSM-7 160 single / 153 per part,
   otherwise (Cyrillic, UCS-2) 70 single / 67 per part. Works after htmx swaps too. */
(function () {
  "use strict";
  var GSM7 = new Set(Array.from(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ" +
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
  ));
  var GSM7_EXTENSION = new Set(Array.from("^{}\\[~]|€\f"));

  // The same split as playbooks.sms_text.sms_split: GSM 03.38 (an extension character counts
  // two) or UCS-2 (a character beyond the BMP counts two), parts cut at character boundaries.
  function smsParts(text) {
    var chars = Array.from(text);  // code points, as Python's len()
    var gsm = chars.every(function (ch) { return GSM7.has(ch) || GSM7_EXTENSION.has(ch); });
    var single = gsm ? 160 : 70;
    var perPart = gsm ? 153 : 67;
    var units = function (ch) {
      return gsm ? (GSM7_EXTENSION.has(ch) ? 2 : 1) : (ch.codePointAt(0) > 0xFFFF ? 2 : 1);
    };
    var total = chars.reduce(function (sum, ch) { return sum + units(ch); }, 0);
    var parts = 1;
    if (total > single) {
      var used = 0;
      chars.forEach(function (ch) {
        var size = units(ch);
        if (used + size > perPart) { parts += 1; used = 0; }
        used += size;
      });
    }
    return { chars: chars.length, parts: parts, gsm: gsm, single: single, perPart: perPart };
  }

  function plural(n, one, few, many) {
    var m10 = n % 10, m100 = n % 100;
    if (m10 === 1 && m100 !== 11) return one;
    if (m10 >= 2 && m10 <= 4 && (m100 < 12 || m100 > 14)) return few;
    return many;
  }

  function update(textarea) {
    var counter = document.getElementById(textarea.dataset.smsCounter);
    if (!counter) return;
    var info = smsParts(textarea.value.trim());
    var max = parseInt(counter.dataset.maxParts || "0", 10);
    var text = info.chars === 0
      ? "0 символов · в одном SMS 70 знаков кириллицей или 160 латиницей"
      : info.chars + " " + plural(info.chars, "символ", "символа", "символов") +
        " · " + info.parts + " SMS · " +
        (info.gsm ? "латиница: " : "кириллица: ") + info.single + " в одном SMS, " +
        info.perPart + " в каждой части длинного";
    var tooLong = max > 0 && info.parts > max;
    if (tooLong) text += " — слишком длинно, можно не больше " + max + " SMS";
    counter.textContent = text;
    counter.dataset.parts = String(info.parts);
    counter.classList.toggle("too-long", tooLong);
  }

  function scan(root) {
    (root || document).querySelectorAll("textarea[data-sms-counter]").forEach(update);
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[data-sms-counter]")) update(event.target);
  });
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.target); });
})();
