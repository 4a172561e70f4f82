// The intake form. A file, not inline script or an htmx trigger filter: the
// Content-Security-Policy allows scripts from 'self' only, and no eval.

// Enter in the phone field looks the caller up at once and moves on to the category
// instead of submitting a half-filled form.
const phone = document.getElementById("id_phone");
if (phone) {
  phone.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    htmx.trigger(phone, "lookup-now");
    document.getElementById("id_category").focus();
  });
}

// After a refused save, put the cursor on the first field to fix.
const firstError = document.querySelector(".has-error input, .has-error select, .has-error textarea");
if (firstError) firstError.focus();
