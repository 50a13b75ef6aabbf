# The dashboard's pages share one layout (head, header and navigation, token forms, footer):
# api/assets/ui-layout.html, with each page's own <main> content in api/assets/ui-PAGE.main.html.
# forja_ui_pages(ASSETS_DIR OUT_DIR) writes OUT_DIR/ui-PAGE.html for every page at configure
# time (again whenever an input changes); the binary embeds those files.

# forja_ui_page(ASSETS_DIR OUT_DIR PAGE TITLE NAV): one page; NAV is the navigation entry
# marked as the current page (builds, services or images).
function(forja_ui_page assets out page title nav)
  file(READ ${assets}/ui-${page}.main.html UI_MAIN)
  string(REGEX REPLACE "\n$" "" UI_MAIN "${UI_MAIN}")
  set(UI_PAGE ${page})
  set(UI_TITLE ${title})
  foreach(entry builds services images)
    string(TOUPPER ${entry} upper)
    if(entry STREQUAL nav)
      set(UI_CURRENT_${upper} " aria-current=\"page\"")
    else()
      set(UI_CURRENT_${upper} "")
    endif()
  endforeach()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${assets}/ui-${page}.main.html)
  configure_file(${assets}/ui-layout.html ${out}/ui-${page}.html @ONLY)
endfunction()

function(forja_ui_pages assets out)
  forja_ui_page(${assets} ${out} builds Builds builds)
  forja_ui_page(${assets} ${out} build Build builds)
  forja_ui_page(${assets} ${out} services Services services)
  forja_ui_page(${assets} ${out} images Images images)
endfunction()
